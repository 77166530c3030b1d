"""Moving a bundle across the air gap: as files, or as animated, fountain-coded QR symbols.

The pieces stand alone so other front ends (the command line, the TUI, the
benchmark) can share them: `bundle` is the bundle itself (formats, limits,
directories on a USB stick), `codec` the compression a bundle names,
`exchange` what an export gathers and an import does, `base45` makes bytes
safe for QR alphanumeric mode, `frames` cuts a payload with RaptorQ into
self-describing frames and puts it back together (following every transfer
it sees), `qrrender` draws frames as QR symbols (PNG, SVG, PDF, terminal),
`qr` is the policy the front ends share (payload, masks, frame files,
terminal fit) and `receive` reads frames back from images, a video or a
camera. The formats are described in docs/bundle-format.md and
docs/transfer-format.md.
"""
