"""Text for widgets that would otherwise read markup: shown as it is, made visible.

Textual reads square brackets in strings given to tables, option lists,
buttons and notifications as markup, so an owner named "[red]Alice" would
restyle the screen. Every string that may come from outside goes through
:func:`plain` (or a widget with markup off), after
:func:`ceremony.text.visible` has escaped its control characters.
"""

from __future__ import annotations

from rich.text import Text

from ceremony.text import visible


def plain(value: object, style: str = "") -> Text:
    """``value`` as literal text: no markup, control characters visible."""
    return Text(visible(value), style=style, end="")
