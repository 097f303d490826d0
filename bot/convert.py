"""From the parser's :class:`~parser.Prompt` to the engine's :class:`~engine.GenerationRequest`.

The only place the two vocabularies meet (parser and engine never import each other).
"""

from __future__ import annotations

from engine.request import GenerationRequest, Operation, WeightedText
from engine.scheduler import SpeedMode
from parser import Prompt

__all__ = ["mode_of", "request_from_prompt", "version_key"]

DEFAULT_STYLIZE = 100
DEFAULT_STYLE_WEIGHT = 100
DEFAULT_CHARACTER_WEIGHT = 100


def version_key(prompt: Prompt) -> str | None:
    """The model catalog key (``6.1``, ``niji``, ``niji 6``) the prompt asks for, if any."""
    params = prompt.params
    if params.niji is not None:
        return f"niji {params.niji.version}" if params.niji.version else "niji"
    return params.version


def mode_of(prompt: Prompt, default: SpeedMode = SpeedMode.FAST) -> SpeedMode:
    return SpeedMode(str(prompt.params.mode)) if prompt.params.mode is not None else default


def request_from_prompt(prompt: Prompt, *, seed: int | None = None) -> GenerationRequest:
    """An ``imagine`` request for ``prompt``; ``seed`` overrides the prompt's ``--seed``."""
    params = prompt.params
    return GenerationRequest(
        operation=Operation.IMAGINE,
        prompt=tuple(WeightedText(part.text, part.weight) for part in prompt.parts),
        negative=params.no,
        aspect=params.aspect or (1, 1),
        seed=seed if seed is not None else params.seed,
        chaos=params.chaos or 0,
        stylize=params.stylize if params.stylize is not None else DEFAULT_STYLIZE,
        stop=params.stop or 100,
        quality=params.quality or 1.0,
        tile=params.tile,
        weird=params.weird or 0,
        version=version_key(prompt),
        image_weight=params.iw if params.iw is not None else 1.0,
        style_weight=params.sw if params.sw is not None else DEFAULT_STYLE_WEIGHT,
        character_weight=params.cw if params.cw is not None else DEFAULT_CHARACTER_WEIGHT,
    )
