"""Portrait jobs' specs — shared by ``/portrait`` and ``mjbot portrait``.

A training job (:func:`training_spec`) holds the stored photos; the engine prepares them again
and learns the face. A portraits job (:func:`portraits_spec`) is an imagine job about the
person: the prompt (in the style's template) starts with the person's token, the person's face
LoRA (``portrait:<owner>/<name>``) is among its LoRAs, and it renders ``candidates`` seeds of
which the best four (by likeness) are its grid. Its children (V, Upscale, 🔄) inherit the
prompt and the face LoRA, so they stay the same person; a Remix puts the person (token, style,
LoRAs: :class:`~bot.jobs.person.PersonLook`, kept in the settings) back on the edited prompt.
"""

from __future__ import annotations

from dataclasses import replace

from bot.errors import UserError
from bot.jobs.person import PersonLook
from bot.jobs.spec import (
    FaceTraining,
    JobSpec,
    Portraits,
    PromptSettings,
    ReferenceSpec,
    StoredFile,
)
from engine.errors import InvalidRequestError
from engine.loras import LoraUse, portrait_lora
from engine.portrait.imagine import FACE_WEIGHT, person_prompt
from engine.portrait.library import check_name, token_for
from engine.portrait.styles import PortraitStyle, in_template
from engine.request import GenerationRequest, WeightedText, random_seed
from parser import Prompt

__all__ = [
    "DEFAULT_NAME",
    "LABEL",
    "MIN_PHOTOS",
    "TRAINING_LABEL",
    "checked_name",
    "person_look",
    "portraits_spec",
    "remixed",
    "training_prompt",
    "training_spec",
    "with_person",
]

DEFAULT_NAME = "me"
MIN_PHOTOS = 3
LABEL = "Portrait"
TRAINING_LABEL = "Portrait training"


def checked_name(name: str | None) -> str:
    """A portrait's name (``me`` when not given); :class:`UserError` saying what is allowed."""
    try:
        return check_name((name or DEFAULT_NAME).strip())
    except InvalidRequestError as error:
        message = str(error)
        raise UserError(
            message[:1].upper() + message[1:] + ".", title="Invalid parameter"
        ) from None


def training_prompt(name: str, photos: int) -> str:
    """A training job's echo: ``portrait “me” from 3 photos``."""
    return f"portrait “{name}” from {photos} photos"


def training_spec(
    owner: int,
    name: str,
    photos: tuple[StoredFile, ...],
    *,
    steps: int | None = None,
    version: str | None = None,
) -> JobSpec:
    """Learning ``photos`` as ``owner``'s person ``name`` on the model of ``version``."""
    work = FaceTraining(owner, name, photos, steps)
    settings = PromptSettings(version=version)
    return JobSpec(settings=settings, seeds=(random_seed(),), work=work)


def portraits_spec(
    prompt: Prompt,
    owner: int,
    name: str,
    *,
    style: PortraitStyle | None,
    candidates: int,
    references: tuple[ReferenceSpec, ...] = (),
    version: str | None = None,
) -> JobSpec:
    """The portraits job for ``prompt`` about ``owner``'s person ``name``: ``candidates``
    seeds (from ``--seed``, else random), the style's template and LoRA, the face LoRA, on
    the model of ``version`` (the one the face was learned on)."""
    seeds = GenerationRequest(seed=prompt.params.seed, count=candidates).resolved_seeds()
    spec = JobSpec.from_prompt(prompt, seeds=seeds, references=references)
    settings = with_person(spec.settings, person_look(owner, name, style), version)
    work = Portraits(owner, name, style.name if style is not None else None)
    return replace(spec, settings=settings, work=work)


def person_look(owner: int, name: str, style: PortraitStyle | None) -> PersonLook:
    """What a portrait of ``owner``'s ``name`` in ``style`` adds to a prompt."""
    loras = [LoraUse(portrait_lora(owner, name), FACE_WEIGHT)]
    if style is not None and style.lora:
        loras.append(LoraUse(style.lora, style.weight))
    template = style.template if style is not None else None
    return PersonLook(token_for(name), template, tuple(loras))


def with_person(
    settings: PromptSettings, person: PersonLook, version: str | None
) -> PromptSettings:
    """A user's ``settings`` about the person: the first part in the style's template after
    the person's token, the face and style LoRAs before the user's own, on ``version`` (the
    model the face was learned on)."""
    parts = list(settings.prompt) or [WeightedText("")]
    if person.template is not None:
        parts[0] = replace(parts[0], text=in_template(person.template, parts[0].text))
    added = {lora.name for lora in person.loras}
    own = tuple(lora for lora in settings.loras if lora.name not in added)
    return replace(
        settings,
        prompt=person_prompt(person.token, parts),
        loras=(*person.loras, *own),
        version=version,
        person=person,
    )


def remixed(settings: PromptSettings, person: PersonLook, version: str | None) -> PromptSettings:
    """A Remix's edited ``settings`` for a portrait's child: the same person, style and model
    (:class:`UserError` when the edit asks for another model)."""
    if settings.version is not None and settings.version != version:
        raise UserError(
            "A portrait stays on the model its face was learned on: leave `--v` out of the Remix.",
            title="Invalid parameter",
        )
    return with_person(settings, person, version)
