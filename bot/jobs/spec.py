"""A job's recipe (:class:`JobSpec`), stored as JSON on its row, and the engine request built
from it — the only place a :class:`~engine.GenerationRequest` is built (bot and CLI alike).

Everything an operation needs is in the spec (prompt and parameters, seeds resolved at
creation, references, the source image, the mask, outpaint settings), so a job re-runs the
same after a restart and any button makes a child job from the database alone
(``bot.jobs.children``). The JSON layout is the one stored since the first release, so rows
written by earlier versions read back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, ClassVar

from bot.jobs.person import PersonLook
from bot.jobs.work import (
    Background,
    FaceTraining,
    Imagine,
    Mimic,
    Outpaint,
    Portraits,
    ReferenceSpec,
    Region,
    Retexture,
    Role,
    SourceImage,
    StoredFile,
    Transfer,
    Upscale,
    Variation,
    Work,
    pair,
)
from bot.jobs.work_json import work_from_json, work_to_json
from engine.loras import LoraUse, portrait_lora
from engine.request import (
    BackgroundSpec,
    FaceTrainingSpec,
    GenerationRequest,
    MimicSpec,
    Operation,
    OutpaintSpec,
    PortraitSpec,
    Reference,
    RetextureSpec,
    Strength,
    Style,
    TransferSpec,
    WeightedText,
)
from parser import Prompt

if TYPE_CHECKING:
    from pathlib import Path

    from PIL import Image

__all__ = [
    "Background",
    "FaceTraining",
    "Imagine",
    "JobSpec",
    "Mimic",
    "Outpaint",
    "Portraits",
    "PromptSettings",
    "ReferenceSpec",
    "Region",
    "Retexture",
    "Role",
    "SourceImage",
    "StoredFile",
    "Transfer",
    "Upscale",
    "Variation",
    "Work",
    "version_key",
]

_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(GenerationRequest)}
"""The engine's defaults: what an unset parameter means, written once (in the engine)."""


@dataclass(frozen=True, slots=True)
class PromptSettings:
    """The prompt's text and parameters: what an edited (Remix) prompt replaces in a job.

    Defaults are the engine's (``GenerationRequest``); the names are the prompt language's.
    A new prompt parameter is one field here (and one line in :meth:`from_prompt` if its
    name differs from the parser's).
    """

    prompt: tuple[WeightedText, ...] = ()
    negative: tuple[str, ...] = ()
    chaos: int = _DEFAULTS["chaos"]
    stylize: int = _DEFAULTS["stylize"]
    stop: int = _DEFAULTS["stop"]
    quality: float = _DEFAULTS["quality"]
    tile: bool = _DEFAULTS["tile"]
    weird: int = _DEFAULTS["weird"]
    version: str | None = None
    """The model catalog key (``6.1``, ``niji``, ``niji 6``); ``None``: the default model."""
    iw: float = _DEFAULTS["image_weight"]
    """``--iw``: how much the image prompts count."""
    sw: int = _DEFAULTS["style_weight"]
    """``--sw``: how strongly the style references apply."""
    cw: int = _DEFAULTS["character_weight"]
    """``--cw``: 0 copies the face only, 100 also hair and clothes."""
    style: str | None = None
    """``--style``: ``raw`` (no house style) or a niji style; ``None``: the house style."""
    loras: tuple[LoraUse, ...] = ()
    """``--lora``: LoRAs of the server's folder and their weights (``None``: its default)."""
    person: PersonLook | None = None
    """A portrait's person (already in ``prompt`` and ``loras``): a Remix puts it back."""

    _SCALARS: ClassVar[tuple[str, ...]] = (
        "chaos", "stylize", "stop", "quality", "tile", "weird", "version", "iw", "sw", "cw",
        "style",
    )  # fmt: skip

    @classmethod
    def from_prompt(cls, prompt: Prompt) -> PromptSettings:
        params = prompt.params
        given = {name: getattr(params, name, None) for name in cls._SCALARS}
        given["version"] = version_key(prompt)
        return cls(
            prompt=tuple(WeightedText(part.text, part.weight) for part in prompt.parts),
            negative=params.no,
            loras=tuple(LoraUse(lora.name, lora.weight) for lora in params.lora),
            **{name: value for name, value in given.items() if value is not None},
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt": [[part.text, part.weight] for part in self.prompt],
            "negative": list(self.negative),
        }
        if self.loras:
            out["loras"] = [[lora.name, lora.weight] for lora in self.loras]
        if self.person is not None:
            out["person"] = self.person.to_json()
        out.update({name: getattr(self, name) for name in self._SCALARS})
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PromptSettings:
        values: dict[str, Any] = {}
        for name in cls._SCALARS:
            if data.get(name) is not None:
                default = _SETTINGS_DEFAULTS[name]
                values[name] = data[name] if default is None else type(default)(data[name])
        return cls(
            prompt=tuple(WeightedText(str(text), float(w)) for text, w in data.get("prompt", ())),
            negative=tuple(str(n) for n in data.get("negative", ())),
            loras=tuple(
                LoraUse(str(name), None if weight is None else float(weight))
                for name, weight in data.get("loras", ())
            ),
            person=PersonLook.from_json(data["person"]) if data.get("person") else None,
            **values,
        )


_SETTINGS_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(PromptSettings)}


def version_key(prompt: Prompt) -> str | None:
    """The model catalog key (``6.1``, ``niji``, ``niji 6``) the prompt asks for, if any."""
    params = prompt.params
    if params.niji is not None:
        return f"niji {params.niji.version}" if params.niji.version else "niji"
    return params.version


# -- the spec ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobSpec:
    """Everything needed to render a job; child jobs come from ``dataclasses.replace``."""

    settings: PromptSettings
    seeds: tuple[int, ...]
    aspect: tuple[int, int] = (1, 1)
    work: Work = field(default_factory=Imagine)
    references: tuple[ReferenceSpec, ...] = ()

    @classmethod
    def from_prompt(
        cls,
        prompt: Prompt,
        seeds: tuple[int, ...] | None = None,
        references: tuple[ReferenceSpec, ...] = (),
    ) -> JobSpec:
        """An ``imagine`` job for ``prompt``, its per-image seeds resolved now (from
        ``--seed``, else random) unless given, so a re-run after a restart renders the same."""
        if seeds is None:
            seeds = GenerationRequest(seed=prompt.params.seed).resolved_seeds()
        return cls(
            settings=PromptSettings.from_prompt(prompt),
            seeds=tuple(seeds),
            aspect=prompt.params.aspect or _DEFAULTS["aspect"],
            references=references,
        )

    @property
    def operation(self) -> Operation:
        return self.work.operation

    @property
    def source(self) -> SourceImage | None:
        return None if isinstance(self.work, Imagine) else self.work.source

    @property
    def pending_references(self) -> tuple[ReferenceSpec, ...]:
        """The references and a style transfer's or reference edit's images not yet fetched
        and stored."""
        with_images = Transfer | Mimic | Retexture | Background
        images = self.work.images if isinstance(self.work, with_images) else ()
        return tuple(r for r in (*self.references, *images) if r.pending)

    def with_seeds(self, seeds: tuple[int, ...]) -> JobSpec:
        return replace(self, seeds=seeds)

    def to_json(self) -> dict[str, Any]:
        return {
            **work_to_json(self.work),
            **self.settings.to_json(),
            "aspect": list(self.aspect),
            "seeds": list(self.seeds),
            "references": [r.to_json() for r in self.references],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobSpec:
        return cls(
            settings=PromptSettings.from_json(data),
            seeds=tuple(int(seed) for seed in data["seeds"]),
            aspect=pair(data.get("aspect") or _DEFAULTS["aspect"]),
            work=work_from_json(data),
            references=tuple(ReferenceSpec.from_json(r) for r in data.get("references", ())),
        )

    def request(
        self,
        source: Image.Image | None = None,
        mask: Image.Image | None = None,
        references: tuple[Reference, ...] = (),
        *,
        seed: int | None = None,
        style: Image.Image | None = None,
        reference: Image.Image | None = None,
        photos: tuple[Image.Image, ...] = (),
        portraits: Path | None = None,
    ) -> GenerationRequest:
        """The engine request, with the stored images already read (``source``, ``mask``,
        ``references``: see ``bot.jobs.references``; a retexture's or background change's image
        is ``source`` (and the subject ``mask``); a style transfer's content is ``source``
        and its ``style``; a reference edit's image is ``source``, its ``mask`` and its
        ``reference``; a face training's ``photos``; ``portraits``: where portraits are
        kept); ``seed`` overrides the seeds (``mjbot imagine --seed``)."""
        settings = self.settings
        work = self.work
        if isinstance(work, FaceTraining):
            return self._training_request(work, photos, portraits)
        if isinstance(work, Transfer):
            return self._transfer_request(work, source, style, seed)
        if isinstance(work, Mimic):
            return self._mimic_request(work, source, mask, reference, seed)
        outpaint = None
        if isinstance(work, Outpaint):
            outpaint = OutpaintSpec(work.zoom, work.pan, work.make_square, work.aspect)
        strength = work.strength if isinstance(work, Variation | Upscale) else Strength.STRONG
        portrait = None
        if isinstance(work, Portraits):
            if portraits is None:
                raise ValueError("portraits need the folder they are kept in")
            folder = portraits / str(work.owner) / work.name
            portrait = PortraitSpec(folder, portrait_lora(work.owner, work.name))
        retexture = (
            RetextureSpec(work.structure, work.strength) if isinstance(work, Retexture) else None
        )
        background = None
        if isinstance(work, Background):  # ``mask`` is the subject (white = keep), if given
            background, mask = BackgroundSpec(mask), None
        return GenerationRequest(
            operation=work.operation,
            prompt=settings.prompt,
            negative=settings.negative,
            aspect=self.aspect,
            count=len(self.seeds),
            seed=seed,
            seeds=None if seed is not None else self.seeds,
            chaos=settings.chaos,
            stylize=settings.stylize,
            stop=settings.stop,
            quality=settings.quality,
            tile=settings.tile,
            weird=settings.weird,
            version=settings.version,
            strength=strength,
            source=source,
            mask=mask,
            outpaint=outpaint,
            references=references,
            image_weight=settings.iw,
            style_weight=settings.sw,
            character_weight=settings.cw,
            style=Style(settings.style) if settings.style else None,
            loras=settings.loras,
            portrait=portrait,
            retexture=retexture,
            background=background,
        )

    def _training_request(
        self, work: FaceTraining, photos: tuple[Image.Image, ...], portraits: Path | None
    ) -> GenerationRequest:
        if portraits is None or len(photos) != len(work.photos):
            raise ValueError("a face training needs its photos and the portraits folder")
        training = FaceTrainingSpec(
            photos=photos,
            photo_hashes=tuple(photo.sha256 for photo in work.photos),
            name=work.name,
            root=portraits / str(work.owner),
            steps=work.steps,
            seed=self.seeds[0] if self.seeds else 0,
        )
        return GenerationRequest(
            operation=Operation.FACE_TRAINING,
            count=1,
            seeds=self.seeds[:1] or (0,),
            version=self.settings.version,
            training=training,
        )

    def _transfer_request(
        self,
        work: Transfer,
        content: Image.Image | None,
        style: Image.Image | None,
        seed: int | None,
    ) -> GenerationRequest:
        if content is None or style is None:
            raise ValueError("a style transfer needs its content and style images")
        transfer = TransferSpec(
            style=style,
            strength=work.strength,
            size=work.size,
            preserve_colors=work.preserve_colors,
            steps=work.steps,
        )
        return GenerationRequest(
            operation=Operation.TRANSFER,
            count=1,
            seed=seed,
            seeds=None if seed is not None else self.seeds[:1],
            source=content,
            transfer=transfer,
        )

    def _mimic_request(
        self,
        work: Mimic,
        image: Image.Image | None,
        mask: Image.Image | None,
        reference: Image.Image | None,
        seed: int | None,
    ) -> GenerationRequest:
        if image is None or mask is None or reference is None:
            raise ValueError("a reference edit needs its image, mask and reference")
        return GenerationRequest(
            operation=Operation.MIMIC,
            count=len(self.seeds),
            seed=seed,
            seeds=None if seed is not None else self.seeds,
            source=image.convert("RGB"),
            mask=mask.convert("L"),
            mimic=MimicSpec(reference.convert("RGB"), keep_shape=work.keep_shape),
        )
