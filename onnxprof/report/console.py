"""The one way onnxprof makes a rich Console: markup and emoji codes off.

Model, node and file names are data, and ``[red]`` or ``[/x]`` in one of them would be read as rich markup:
a file ``b[red].onnx`` shown as ``b.onnx``, a node ``[/y]`` ending the command with a MarkupError. With
markup off no text is ever read as markup; styled lines are :class:`rich.text.Text` with a style.
Emoji codes are off for the same reason (a node ``:fire:conv`` is not a flame), and rich then skips
looking for them in every string it draws.
"""

from __future__ import annotations

from rich.console import Console


def make_console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, markup=False, emoji=False)
