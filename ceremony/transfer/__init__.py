"""Moving a bundle across the air gap as animated, fountain-coded QR symbols.

The pieces stand alone so other front ends (the command line, the TUI, the
benchmark) can share them: `base45` makes bytes safe for QR alphanumeric
mode, `frames` compresses and cuts a payload with RaptorQ into self-describing
frames and puts it back together, `qrrender` draws frames as QR symbols (PNG,
SVG, PDF, terminal) and `receive` reads them back from images, a video or a
camera. The wire format is described in docs/transfer-format.md.
"""
