"""Former home of all rendering, kept so existing ``bot.render.message`` imports still work.

New code imports from :mod:`bot.render` (or the module of the concern); once no caller is
left, this module goes.
"""

from __future__ import annotations

from bot.render import *  # noqa: F403
from bot.render import __all__ as __all__
