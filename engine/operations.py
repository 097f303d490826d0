"""Rendering a :class:`GenerationRequest` with a loaded model (on the worker thread).

:func:`render` reads as the numbered steps of a diffusers ``__call__``: check the request,
prepare seeds and conditioning, choose the pipeline and its inputs for the operation, run it
with the step hooks (and circular padding for ``--tile``), then finish the images.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from PIL import Image

from engine.chaos import ChaosNoise, initial_latents, noisy_add_noise
from engine.conditioning import guidance_for_stylize, weird_part
from engine.display import for_display
from engine.errors import GPUOutOfMemoryError, InvalidRequestError
from engine.house_style import (
    DEFAULT_HOUSE_STYLES,
    HouseStyle,
    HouseStyles,
    house_conditioning,
    style_strength,
)
from engine.inputs import check_request, effective_references
from engine.loras import LoraLibrary, applied_loras
from engine.models import Architecture, LoadedModel
from engine.plans import (
    KEEP_SHAPE_STRENGTH,
    REGION_STRENGTH,
    SEAM_RADIUS_FRACTION,
    UPSCALE_STRENGTH,
    VARIATION_STRENGTH,
    Control,
    Plan,
    finish,
    plan_for,
    side_multiple,
)
from engine.request import (
    EffectiveParameters,
    GenerationRequest,
    GenerationResult,
    Operation,
    Progress,
    ReferenceRole,
    WeightedText,
)
from engine.sampling import StepHooks, capture_x0
from engine.tiling import seamless

__all__ = [
    "KEEP_SHAPE_STRENGTH",
    "REGION_STRENGTH",
    "SEAM_RADIUS_FRACTION",
    "UPSCALE_STRENGTH",
    "VARIATION_STRENGTH",
    "chaos_noise",
    "describe_references",
    "effective_parameters",
    "effective_references",
    "effective_stop",
    "free_memory",
    "render",
    "request_look",
    "schedule_steps",
    "side_multiple",
    "steps_for",
]

CHAOTIC = frozenset({Operation.IMAGINE, Operation.REGION})

PreviewFn = Callable[[list[Image.Image]], Image.Image | None]


def steps_for(model: LoadedModel, request: GenerationRequest) -> int:
    """Steps of the full schedule: the model's (or the request's), scaled by ``--quality`` for
    a first grid only (Midjourney: ``--q`` affects neither variations nor upscales), at most
    the model's training timesteps (``MJ_STEPS=800`` with ``--q 2`` runs 1000)."""
    base = request.steps if request.steps is not None else model.base_steps
    quality = request.quality if request.operation is Operation.IMAGINE else 1.0
    return min(max(1, round(base * quality)), model.max_steps)


def schedule_steps(steps: int, strength: float | None) -> int:
    """``num_inference_steps`` for a pipeline call: img2img and inpaint run only the last
    ``int(steps·strength)`` steps of the schedule, so the schedule is lengthened until at least
    one step runs (an Upscale (Subtle) of a ``--q .25`` job would otherwise run none)."""
    if strength is None:
        return steps
    if not 0 < strength <= 1:
        raise InvalidRequestError(f"strength must be in (0, 1], not {strength:g}")
    scheduled = max(steps, math.ceil(1 / strength))
    while int(scheduled * strength) < 1:  # float rounding at the boundary
        scheduled += 1
    return scheduled


def effective_stop(request: GenerationRequest) -> int:
    """``--stop`` as applied: upscales always finish (Midjourney: it "does not work while
    upscaling")."""
    return 100 if request.operation is Operation.UPSCALE else request.stop


def render(
    model: LoadedModel,
    request: GenerationRequest,
    *,
    cancel: threading.Event | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_preview: PreviewFn | None = None,
    house: HouseStyles = DEFAULT_HOUSE_STYLES,
    loras: LoraLibrary | None = None,
    control: Control | None = None,
) -> GenerationResult:
    """Render ``request`` (in the look of ``house``, its ``--lora`` from ``loras``; a
    retexture's structure map and ControlNet in ``control``); raises
    :class:`~engine.errors.EngineError` subclasses."""
    run = functools.partial(
        _render, model, cancel=cancel, on_progress=on_progress, on_preview=on_preview,
        house=house, control=control,
    )  # fmt: skip
    if not request.loras:
        return run(request)
    if loras is None:
        raise InvalidRequestError("--lora: this server has no LoRA folder (MJ_LORA_DIR)")
    chosen = loras.resolve(request.loras)
    triggers = tuple(WeightedText(entry.trigger) for entry, _ in chosen if entry.trigger)
    with applied_loras(model.text2img, chosen):
        result = run(replace(request, prompt=request.prompt + triggers))
    used = {entry.name: weight for entry, weight in chosen}
    return replace(result, parameters=replace(result.parameters, loras=used))


def _render(
    model: LoadedModel,
    request: GenerationRequest,
    *,
    cancel: threading.Event | None,
    on_progress: Callable[[Progress], None] | None,
    on_preview: PreviewFn | None,
    house: HouseStyles,
    control: Control | None = None,
) -> GenerationResult:
    import torch

    started = time.perf_counter()
    # 1. Check inputs; references whose weight switches them off are dropped.
    check_request(request)
    request = replace(request, references=effective_references(request))
    # 2. Seeds, steps, guidance, text conditioning (with the house style at its strength).
    seeds = request.resolved_seeds()
    count = len(seeds)
    steps = steps_for(model, request)
    look, strength, guidance = request_look(model, request, house)
    parts = list(request.prompt)
    weird = weird_part(request.weird)
    if weird is not None:
        parts.append(weird)
    negative = ", ".join(request.negative)
    # 3. The pipeline for the operation, and its image inputs.
    plan = plan_for(model, request, count, control)
    sdxl = model.architecture is Architecture.SDXL
    conditioning = house_conditioning(plan.pipe, parts, negative, count, sdxl, look, strength)
    chaos = chaos_noise(request, seeds, conditioning, sdxl)
    if chaos is not None and request.operation is Operation.IMAGINE:
        width, height = plan.size
        conditioning["latents"] = initial_latents(plan.pipe, seeds, width, height, request.chaos)
    hooks = StepHooks(
        model.architecture.value, effective_stop(request), cancel, on_progress, on_preview, chaos
    )
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    adapters = model.references() if request.references else None
    # 4. Denoise (and decode) with the hooks; --tile makes the UNet and VAE seamless;
    # reference images are in the UNet only for this call; Vary (Region) gets its chaos
    # through the noise the scheduler adds to the image.
    if plan.vae_tiling:
        plan.pipe.vae.enable_tiling()
    try:
        with (
            capture_x0(plan.pipe.scheduler) as x0,
            seamless(
                plan.pipe.unet, plan.pipe.vae, enabled=request.tile, vae_tiling=plan.vae_tiling
            ),
            adapters.active() if adapters is not None else contextlib.nullcontext(),
            noisy_add_noise(plan.pipe.scheduler, seeds, request.chaos if chaos else 0),
        ):
            hooks.x0 = x0
            images_in = {} if adapters is None else adapters.prepare(plan.pipe, request, count)
            output = plan.pipe(
                **conditioning,
                **plan.kwargs,
                **images_in,
                num_inference_steps=schedule_steps(steps, plan.strength),
                guidance_scale=guidance,
                generator=generators,
                output_type="pil",
                callback_on_step_end=hooks,
                callback_on_step_end_tensor_inputs=hooks.tensor_inputs,
            )
    except torch.cuda.OutOfMemoryError as error:
        free_memory()
        raise GPUOutOfMemoryError(
            "the GPU ran out of memory for this job; try a smaller size or fewer references"
        ) from error
    finally:
        plan.pipe._interrupt = False
        if plan.vae_tiling:
            plan.pipe.vae.disable_tiling()
    # 5. Finish: blend edits into their source, enlarge small models' images for display
    # (engine.display), report 100%.
    images = [for_display(finish(request, plan, image), model.native) for image in output.images]
    if on_progress is not None:
        on_progress(Progress(hooks.steps_run, hooks.steps_run))
    parameters = effective_parameters(
        request, plan, steps=steps, guidance=guidance, negative=negative, parts=parts,
        house_strength=strength, size=images[0].size,
    )  # fmt: skip
    width, height = images[0].size
    return GenerationResult(
        tuple(images),
        seeds,
        width,
        height,
        hooks.steps_run,
        model.source,
        time.perf_counter() - started,
        parameters,
    )


def request_look(
    model: LoadedModel, request: GenerationRequest, house: HouseStyles
) -> tuple[HouseStyle | None, float, float]:
    """The house look for the request (none for a closed-vocabulary model), its strength from
    ``--stylize``, and the guidance scale they give."""
    look = None if model.closed_vocabulary else house.for_request(request.style, request.version)
    strength = 0.0 if look is None else style_strength(request.stylize)
    guidance = guidance_for_stylize(request.stylize) + strength * (look or HouseStyle()).guidance
    return look, strength, guidance


def effective_parameters(
    request: GenerationRequest,
    plan: Plan,
    *,
    steps: int,
    guidance: float,
    negative: str,
    parts: Sequence[WeightedText],
    house_strength: float,
    size: tuple[int, int],
) -> EffectiveParameters:
    """What a rendered request ran with (✉️ shows it; enough to reproduce the job)."""
    return EffectiveParameters(
        operation=str(request.operation),
        steps=steps,
        steps_scheduled=schedule_steps(steps, plan.strength),
        guidance_scale=guidance,
        strength=plan.strength,
        sampler=type(plan.pipe.scheduler).__name__,
        negative_prompt=negative,
        prompt=tuple((p.text, p.weight) for p in parts),
        style=str(request.style) if request.style is not None else None,
        stylize=request.stylize,
        house_style_strength=house_strength,
        chaos=request.chaos,
        stop=effective_stop(request),
        tile=request.tile,
        quality=request.quality if request.operation is Operation.IMAGINE else 1.0,
        size=size,
        references=describe_references(request),
        structure=plan.details or {},
    )


def chaos_noise(
    request: GenerationRequest, seeds: tuple[int, ...], conditioning: dict[str, Any], sdxl: bool
) -> ChaosNoise | None:
    """The condition noise of ``--chaos`` for a grid or Vary (Region), applied to the first
    step's conditioning (Midjourney: chaos varies the first grid, and Vary (Region) honours
    it; variations and upscales ignore it)."""
    if request.chaos <= 0 or request.operation not in CHAOTIC:
        return None
    names = ["prompt_embeds", "pooled_prompt_embeds"] if sdxl else ["prompt_embeds"]
    chaos = ChaosNoise.create(request.chaos, seeds, [conditioning[n] for n in names])
    for name, noisy in zip(names, chaos.apply(1.0), strict=True):
        conditioning[name] = noisy
    return chaos


def describe_references(request: GenerationRequest) -> dict[str, object]:
    """How many references of each role, and their weights (✉️'s summary)."""
    roles = [r.role for r in request.references]
    if not roles:
        return {}
    return {
        "images": roles.count(ReferenceRole.IMAGE),
        "styles": roles.count(ReferenceRole.STYLE),
        "characters": roles.count(ReferenceRole.CHARACTER),
        "iw": request.image_weight,
        "sw": request.style_weight,
        "cw": request.character_weight,
    }


def free_memory() -> None:
    """Give cached GPU memory back after an out-of-memory error."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
