"""What makes Jinja quicker for a site's pages, changing no byte of them: a fixed text is
translated once, when its template is compiled; a text with values is translated and
formatted once for each set of values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.visitor import NodeTransformer


class _FoldTranslations(NodeTransformer):
    """``_("Skip to content")``, a fixed text, replaced by its translation when the template
    is compiled: the site's environment has one language, and a call costs a page a few
    microseconds each time, a dozen times a page. Calls with values, or with a text whose
    translation needs them, stay calls."""

    def __init__(self, gettext: Callable[[str], str]):
        self.gettext = gettext

    def visit_Call(self, node: nodes.Call) -> nodes.Node:  # Jinja names its visitors so
        self.generic_visit(node)
        if not (
            isinstance(node.node, nodes.Name)
            and node.node.name == "_"
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            return node
        try:
            text = self.gettext(node.args[0].value) % {}  # what newstyle gettext does
        except (KeyError, ValueError, TypeError):
            return node
        folded = nodes.MarkSafeIfAutoescape(nodes.Const(text), lineno=node.lineno)
        if node.environment is not None:
            folded.set_environment(node.environment)
        return folded


def remembering(gettext: Callable[..., str]) -> Callable[..., str]:
    """Jinja's gettext, remembering what it made of a text and its values: the texts with
    values (``_("RSS for %(series)s", series=tips.title)``) come out the same on every page,
    and translating and formatting them is a tenth of a page's time. It keeps a few thousand
    (a newsletter's unsubscribe links, one a subscriber, would otherwise all be kept)."""
    made: dict[tuple[Any, ...], str] = {}

    @jinja2.pass_context
    def remembered(context: jinja2.runtime.Context, string: str, **variables: Any) -> str:
        try:
            key = (string, context.eval_ctx.autoescape, *variables.items())
            return made[key]
        except KeyError:
            pass
        except TypeError:  # a value that cannot be a key: made each time
            return gettext(context, string, **variables)
        if len(made) >= 4096:
            made.clear()
        made[key] = result = gettext(context, string, **variables)
        return result

    return remembered


class SiteEnvironment(jinja2.Environment):
    """The site's environment: translations of fixed texts are folded in at compile time."""

    fold: _FoldTranslations | None = None

    def fold_translations(self, gettext: Callable[[str], str]) -> None:
        """Translate fixed texts with ``gettext`` when a template is compiled."""
        self.fold = _FoldTranslations(gettext)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        if self.fold is not None:
            self.fold.visit(tree)
        return tree
