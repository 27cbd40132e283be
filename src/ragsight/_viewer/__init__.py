"""Looking at what the embedded file sink recorded: ``summary``, ``view`` and ``report``.

Everything here reads files; nothing imports the SDK setup. ``reader`` is the one reader
of the sink's OTLP JSON Lines files; ``runs`` tells process starts apart; ``stats`` holds
the percentile rules; ``traces`` builds span trees; ``summary``, ``view`` and ``report``
render them (terminal tables, terminal trace trees, one self-contained HTML file);
``live`` is the demo's refreshing terminal dashboard.
"""
