"""Tables that fit the console without cutting a number or a name: the one table of every report.

rich shrinks every column of a table that is wider than the console and ends what it cut with an
ellipsis (``squeezenet…``, ``193.3…``, headers ``pa… G …``); a number or a name a user must type is
then lost. A :class:`FitTable` declares each column's kind and priority and lays itself out when it
is rendered, for the width it is given (the terminal's, or rich's 80 columns when piped):

* ``NUMBER`` and ``NAME`` cells never wrap and are never cut: each such column is as wide as its
  widest cell; its header wraps between words when that is what makes the table fit;
* ``NAMES`` cells (a list of names) wrap between words and never inside one;
* ``TEXT`` cells wrap between words (a word longer than the column folds), down to a floor;
* when that is still too wide, optional columns (priority above 0) leave, the highest number first,
  each as it declares: ``NOTE`` (left out, and a one-line note says so; derived figures, free text),
  ``BELOW`` (listed under the table, one line per row) or ``CONTINUED`` (a second table under the
  first, beside the row's key columns);
* when the columns that must stay still do not fit, the widest key name (a PyTorch export's
  ``/layer1/layer1.0/conv1/Conv``) goes on a line of its own above the rest of its row;
* only a single value wider than the console folds over lines; nothing ends in an ellipsis.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable, Optional, Sequence, Union

from rich import box as boxes
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

NUMBER, NAME, NAMES, TEXT = "number", "name", "names", "text"
WRAPPING = (NAMES, TEXT)
NOTE, BELOW, CONTINUED = "note", "below", "continued"
TEXT_FLOOR = 12       # a wrapped text column is at least this wide (or as wide as its longest line)
STACK_INDENT = 2      # a stacked row's other cells start this far right of its name

Cell = Union[str, Text]


@dataclass(frozen=True)
class Column:
    """One column: its kind (``NUMBER``, ``NAME``, ``NAMES``, ``TEXT``), its priority (0: always shown; the highest
    number leaves first), whether it identifies a row (``key``: repeated beside continued columns, named
    in lines below), and how it leaves (``NOTE``, ``BELOW``, ``CONTINUED``; by default text is noted and
    numbers and names continue in a second table)."""

    header: str
    kind: str = NUMBER
    priority: int = 0
    key: bool = False
    leaves: Optional[str] = None
    justify: Optional[str] = None
    style: Optional[str] = None
    floor: int = TEXT_FLOOR      # a wrapping column is at least this wide, or it leaves (when it may)

    @property
    def how_it_leaves(self) -> str:
        return self.leaves or (NOTE if self.kind == TEXT else CONTINUED)

    @property
    def alignment(self) -> str:
        return self.justify or ("right" if self.kind == NUMBER else "left")


@dataclass(frozen=True)
class _Layout:
    shown: tuple[int, ...]              # column indices, in order
    widths: tuple[int, ...]             # content width of each shown column
    headers: tuple[str, ...]            # header of each shown column, wrapped where it has to
    folded: frozenset[int] = frozenset()  # columns narrower than a value (only when nothing else fits)
    stacked: Optional[int] = None       # the name column shown on a line of its own above each row


class FitTable:
    """A table whose columns are declared once and laid out for the console at render time.

    ``title`` and ``caption`` print above and under the table at the console's width (a long one wraps
    between words, never narrowed to the table). ``label(cells)`` prefixes a row's lines below the table
    (default: its key cells and a colon); ``hint`` says where the columns left out can be seen. Every other
    argument is rich's :class:`~rich.table.Table`'s."""

    def __init__(self, title: Optional[Cell], columns: Iterable[Column], *, caption: Optional[Cell] = None,
                 box: Optional[boxes.Box] = boxes.SIMPLE_HEAD, show_header: bool = True, pad_edge: bool = False,
                 label: Optional[Callable[[Sequence[Cell]], str]] = None,
                 hint: str = "a wider terminal or --format json") -> None:
        self.title = title
        self.columns = tuple(columns)
        self.caption = caption
        self.box = box
        self.show_header = show_header
        self.pad_edge = pad_edge
        self.label = label
        self.hint = hint
        self.rows: list[tuple[Cell, ...]] = []
        self._widest: dict[int, int] = {}       # column -> its widest cell: every trial layout asks

    def add_row(self, *cells: Optional[Cell]) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(tuple("" if cell is None else cell for cell in cells))
        self._widest.clear()

    @property
    def keys(self) -> tuple[int, ...]:
        return tuple(i for i, c in enumerate(self.columns) if c.key) or (0,)

    # --------------------------------------------------------------------------------------------- layout

    def layout(self, console: Console, width: int) -> tuple[_Layout, list[int]]:
        """The layout for ``width`` and the columns that left it, in the order they left."""
        shown = list(range(len(self.columns)))
        left: list[int] = []
        while True:
            fitted = self._fit(console, shown, width)
            if fitted is not None:
                return fitted, left
            optional = [i for i in shown if self.columns[i].priority > 0 and i not in self.keys]
            going = max(optional, key=lambda i: (self.columns[i].priority, i)) if optional else None
            stack = self._stack_candidate(console, shown)
            # a row's name on a line of its own before any number or name leaves for a second table
            if stack is not None and (going is None or self.columns[going].how_it_leaves == CONTINUED):
                fitted = self._fit(console, shown, width, stacked=stack)
                if fitted is not None:
                    return fitted, left
            if going is None:
                return self._folded(console, shown, width, stack), left
            shown.remove(going)
            left.append(going)

    def _stack_candidate(self, console: Console, shown: list[int]) -> Optional[int]:
        names = [i for i in shown if self.columns[i].kind == NAME and self.columns[i].key]
        if not names or len(shown) < 2:
            return None
        return max(names, key=lambda i: self._natural(console, i))

    def _cells(self, index: int) -> list[Text]:
        return [_text(row[index]) for row in self.rows]

    def _natural(self, console: Console, index: int) -> int:
        if index not in self._widest:
            self._widest[index] = max((_widest_line(cell) for cell in self._cells(index)), default=0)
        return self._widest[index]

    def _fit(self, console: Console, shown: list[int], width: int, stacked: Optional[int] = None,
             tight: bool = False) -> Optional[_Layout]:
        """Widths for ``shown`` within ``width``, or None: headers wrap between words where that is what
        makes the table fit (the one that saves most first; all of them when ``tight``)."""
        in_table = [i for i in shown if i != stacked]
        full, least, headers, floors, natural = {}, {}, {}, {}, {}
        for i in in_table:
            column = self.columns[i]
            headers[i] = header = column.header if self.show_header else ""
            cells = self._natural(console, i)
            if column.kind in WRAPPING:
                natural[i] = max(cells, _widest_line(Text(header)))
                words = max((_longest_word(c.plain) for c in self._cells(i)), default=0) if column.kind == NAMES else 0
                floors[i] = min(natural[i], max(column.floor, _longest_word(header), words))
            else:
                full[i] = max(cells, _widest_line(Text(header)), 1)
                least[i] = max(cells, _longest_word(header), 1)
        widths = dict(full)
        room = width - self._overhead(console, len(in_table), stacked is not None) - sum(widths.values())
        for i in sorted(full, key=lambda i: full[i] - least[i], reverse=True):
            if (room >= sum(floors.values()) and not tight) or least[i] == full[i]:
                break
            room += full[i] - least[i]
            widths[i] = least[i]
            headers[i] = _wrap_words(headers[i], least[i])
        if room < sum(floors.values()):
            return None
        widths.update(_share(room, natural, floors))
        return _Layout(tuple(in_table), tuple(widths[i] for i in in_table), tuple(headers[i] for i in in_table),
                       stacked=stacked)

    def _folded(self, console: Console, shown: list[int], width: int, stack: Optional[int]) -> _Layout:
        """The last resort: the widest columns are narrowed until the table fits, and fold."""
        in_table = [i for i in shown if i != stack]
        best = self._fit(console, in_table, 10**6, tight=True)
        widths = dict(zip(best.shown, best.widths))
        budget = width - self._overhead(console, len(in_table), stack is not None)
        folded = set()
        while sum(widths.values()) > budget and max(widths.values()) > 1:
            widest = max(widths, key=lambda i: (widths[i], self.columns[i].kind != NUMBER))
            widths[widest] -= 1
            folded.add(widest)
        return _Layout(tuple(in_table), tuple(widths[i] for i in in_table), best.headers, frozenset(folded), stack)

    def _overhead(self, console: Console, columns: int, stacked: bool) -> int:
        """Borders and padding of a table of ``columns`` columns (rich's, measured on a trial table)."""
        if columns == 0:
            return 0
        trial = self._table([1] * columns, [""] * columns, [Column("")] * columns, set(), stacked)
        return Measurement.get(console, console.options.update_width(10**6), trial).maximum - columns \
            + (STACK_INDENT if stacked else 0)

    def _table(self, widths: Sequence[int], headers: Sequence[str], columns: Sequence[Column], folded: set,
               stacked: bool) -> Table:
        table = Table(box=boxes.SIMPLE_HEAD if stacked else self.box, show_header=self.show_header,
                      pad_edge=self.pad_edge, show_edge=not stacked, collapse_padding=False)
        for w, header, column, i in zip(widths, headers, columns, range(len(columns))):
            table.add_column(Text(header), justify=column.alignment, style=column.style, width=w,
                             no_wrap=column.kind not in WRAPPING and i not in folded, overflow="fold")
        return table

    # ------------------------------------------------------------------------------------------ rendering

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        layout, left = self.layout(console, width)
        if self.title:
            yield _annotation(self.title, "table.title")
        columns = [self.columns[i] for i in layout.shown]
        folded = {k for k, i in enumerate(layout.shown) if i in layout.folded}
        if layout.stacked is None:
            table = self._table(layout.widths, layout.headers, columns, folded, False)
            for row in self.rows:
                table.add_row(*(row[i] for i in layout.shown))
            yield table
        else:
            yield from self._stacked(layout, columns, folded)
        if self.caption:
            yield _annotation(self.caption, "table.caption")
        yield from self._leavers(console, width, left)

    def _stacked(self, layout: _Layout, columns: list[Column], folded: set) -> RenderResult:
        """The header, then each row as its name on a line of its own and its other cells under it."""
        name = self.columns[layout.stacked]

        def part(rows: Sequence[tuple], header: bool) -> _Indented:
            table = self._table(layout.widths, layout.headers, columns, folded, True)
            table.show_header = header
            for row in rows:
                table.add_row(*(row[i] for i in layout.shown))
            return _Indented(table)

        if self.show_header:
            yield Text(name.header, style="table.header")
            yield part((), True)
        for row in self.rows:
            yield Text.assemble(_text(row[layout.stacked]), style=name.style or "")
            yield part((row,), False)

    def _leavers(self, console: Console, width: int, left: list[int]) -> RenderResult:
        noted = [i for i in left if self.columns[i].how_it_leaves == NOTE]
        below = [i for i in left if self.columns[i].how_it_leaves == BELOW]
        continued = [i for i in left if self.columns[i].how_it_leaves == CONTINUED]
        for i in below:
            for row in self.rows:
                value = _text(row[i])
                if value.plain.strip():
                    yield Text.assemble(f"  {self._label(row)} ", value)
        if noted:
            names = ", ".join(self.columns[i].header or "(untitled)" for i in noted)
            yield Text(f"Left out to fit {width} columns: {names} ({self.hint} shows "
                       f"{'it' if len(noted) == 1 else 'them'}).", style="dim")
        if continued:
            continued.sort()
            keys = [i for i in self.keys]
            rest = [replace(self.columns[i], priority=0 if n == 0 else self.columns[i].priority)
                    for n, i in enumerate(continued)]
            title = _text(self.title or "")
            if not title.plain.endswith("(continued)"):
                title = Text.assemble(title, " (continued)" if title.plain else "(continued)")
            more = FitTable(title, [replace(self.columns[k], priority=0, key=True) for k in keys] + rest,
                            box=self.box, show_header=self.show_header, pad_edge=self.pad_edge, label=self.label,
                            hint=self.hint)
            for row in self.rows:
                more.add_row(*(row[i] for i in keys + continued))
            yield more

    def _label(self, row: Sequence[Cell]) -> str:
        if self.label is not None:
            return self.label(row)
        return " · ".join(_text(row[k]).plain for k in self.keys) + ":"


class _Indented:
    """A renderable drawn ``STACK_INDENT`` columns right of the margin."""

    def __init__(self, renderable) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.padding import Padding

        yield Padding(self.renderable, (0, 0, 0, STACK_INDENT), expand=False)


def _annotation(value: Cell, style: str) -> Text:
    text = _text(value).copy()
    text.stylize(style, 0, len(text))    # under the cell's own styles, as rich draws a title
    text.overflow = "fold"
    return text


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(str(cell))


def _widest_line(text: Text) -> int:
    return max(cell_len(line) for line in text.plain.split("\n"))


def _longest_word(text: str) -> int:
    return max((len(word) for word in text.split()), default=0)


def _wrap_words(text: str, width: int) -> str:
    """``text`` broken between words into lines of at most ``width`` (a longer word stays whole)."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def _share(room: int, natural: dict[int, int], floors: dict[int, int]) -> dict[int, int]:
    """Widths of the text columns: each its natural width when all fit, else the widest cut to one
    level (never below its floor) so that together they fill ``room``."""
    if not natural:
        return {}
    if sum(natural.values()) <= room:
        return dict(natural)
    low, high = 0, max(natural.values())
    while low < high:            # the highest level at which the columns fit
        level = (low + high + 1) // 2
        if sum(min(natural[i], max(level, floors[i])) for i in natural) <= room:
            low = level
        else:
            high = level - 1
    return {i: min(natural[i], max(low, floors[i])) for i in natural}
