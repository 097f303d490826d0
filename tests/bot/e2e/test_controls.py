"""Job controls end to end: ❌ (button and reaction), ✉️ to DMs, /info and /show; and the
Discord limits their texts keep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from types import SimpleNamespace

import pytest

from bot.exts.account.controls import dm_text
from bot.exts.account.info import fit_lines
from db import JobStatus
from db import jobs as repo
from db.models import Job
from db.users import get_or_create_user
from engine import GenerationRequest, JobCancelledError, JobHandle, WeightedText
from playground import Emulator
from playground.models import InteractionRecord, Message, User
from tests.bot.e2e.conftest import (
    BotHarness,
    custom_id,
    image_of,
    imagine,
    labels,
    wait_result,
)

LONG = 5000
"""Steps of a job that must stay in flight (minutes on the tiny model)."""


# -- helpers ----------------------------------------------------------------------------------


def occupy_the_gpu(harness: BotHarness) -> JobHandle:
    """Keep the engine's only worker busy with someone else's long job."""
    assert harness.bot is not None
    return harness.bot.deps.engine.submit(
        GenerationRequest(prompt=(WeightedText("a long job"),), steps=LONG, count=1),
        user_id="someone-else",
    )


async def free_the_gpu(blocker: JobHandle) -> None:
    blocker.cancel()
    with contextlib.suppress(JobCancelledError):
        await blocker.future


async def waiting_message(emu: Emulator, harness: BotHarness, prompt: str) -> Message:
    """The job's waiting message (with its ❌ button until the job ends), once the bot has
    recorded it as the job's (reactions find the job through it)."""
    found = await emu.wait_for(
        lambda: [m for m in emu.messages() if prompt in m.content and "❌" in labels_of(m)],
        15,
        what=f"the waiting message of {prompt!r}",
    )
    message = found[0]
    job_id = job_id_of(message)
    deadline = time.monotonic() + 15
    while (await job(harness, job_id)).progress_message_id != message.id:
        assert time.monotonic() < deadline, f"job {job_id}: waiting message not recorded"
        await asyncio.sleep(0.05)
    return message


def labels_of(message: Message) -> list[str]:
    return [label for row in labels(message) for label in row]


def job_id_of(waiting: Message) -> str:
    return custom_id(waiting, "❌").split(":")[2]


async def job(harness: BotHarness, job_id: str) -> Job:
    assert harness.bot is not None
    async with harness.bot.deps.db.session() as session:
        return await repo.get_job(session, job_id, with_images=True)


async def wait_status(
    emu: Emulator,
    harness: BotHarness,
    job_id: str,
    status: JobStatus,
    timeout: float = 15,  # noqa: ASYNC109 - passed to wait_for
) -> None:
    deadline = time.monotonic() + timeout
    while (current := (await job(harness, job_id)).status) is not status:
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {current}, not {status}, after {timeout} s")
        await asyncio.sleep(0.05)


@pytest.fixture
def reactions_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The bot's log of reactions: they get no reply, so it is the only witness of one that
    was ignored."""
    caplog.set_level(logging.INFO, logger="bot.exts.account.controls")
    return caplog


async def ignored(
    emu: Emulator, caplog: pytest.LogCaptureFixture, job_id: str, emoji: str, user: User
) -> None:
    """Wait until the bot has seen (and ignored) ``user``'s reaction to the job."""
    line = f"job {job_id}: {emoji} from user {user.id}, not its owner: ignored"
    await emu.wait_for(lambda: line in caplog.messages, 15, what=f"{emoji} to be ignored")


async def stopped(emu: Emulator, message: Message) -> Message:
    """The waiting message once it says ``(Stopped)``; its ❌ is gone by then."""
    await emu.wait_for(
        lambda: emu.message(message.id).content.endswith("(Stopped)"),
        15,
        what="the waiting message to say (Stopped)",
    )
    final = emu.message(message.id)
    assert final.components == []
    return final


async def ephemeral_reply(emu: Emulator, record: InteractionRecord) -> Message:
    """The bot's (first) ephemeral answer to an interaction: a follow-up or its response."""
    return await emu.wait_for(
        lambda: next(
            (
                m
                for m in [*record.followups, record.original_message]
                if m is not None and m.ephemeral and not m.loading and (m.content or m.embeds)
            ),
            None,
        ),
        15,
        what="an ephemeral reply",
    )


async def show(emu: Emulator, job_id: str, user: User | None = None) -> InteractionRecord:
    return await emu.slash("show", user or emu.alice, options={"job_id": job_id})


async def refusal(emu: Emulator, record: InteractionRecord) -> tuple[str, str]:
    reply = await ephemeral_reply(emu, record)
    embed = reply.embeds[0]
    return embed["title"], embed["description"]


# -- ❌ ---------------------------------------------------------------------------------------


@pytest.mark.bot_settings(mj_max_active_jobs=1, mj_max_queued_jobs=1, mj_steps=LONG)
async def test_cancel_held_job_frees_its_place_and_never_starts(
    emu: Emulator, harness: BotHarness
) -> None:
    await imagine(emu, "first lighthouse")
    first = await waiting_message(emu, harness, "first lighthouse")
    await imagine(emu, "second lighthouse")
    second = await waiting_message(emu, harness, "second lighthouse")
    second_id = job_id_of(second)
    full = await imagine(emu, "third lighthouse")
    assert (await refusal(emu, full))[0] == "Queue full"

    # pressed twice before either press lands: one stops it, the other is told it is over
    presses = [await emu.click(second.id, custom_id(second, "❌"), emu.alice) for _ in range(2)]
    final = await stopped(emu, second)
    assert final.content == f"**second lighthouse** - <@{emu.alice.id}> (Stopped)"
    assert (await job(harness, second_id)).status is JobStatus.CANCELLED
    notes = await emu.wait_for(
        lambda: [m.content for press in presses for m in press.followups], 15, what="a note"
    )
    assert notes == ["That job has already ended; there is nothing to cancel."]
    # its place in the user's queue is free again
    again = await imagine(emu, "third lighthouse")
    assert (await refusal(emu, again))[0] == "Job queued"

    # the running one stops; the next held job (not the cancelled one) takes its place
    await emu.click(first.id, custom_id(first, "❌"), emu.alice)
    await stopped(emu, first)
    third = await waiting_message(emu, harness, "third lighthouse")
    await emu.wait_for(lambda: "%)" in emu.message(third.id).content, 15, what="third to run")
    assert (await job(harness, second_id)).status is JobStatus.CANCELLED
    assert emu.message(second.id).content.endswith("(Stopped)")


@pytest.mark.bot_settings(mj_steps=LONG)
async def test_cancel_running_job_stops_the_gpu_within_a_step(
    emu: Emulator, harness: BotHarness
) -> None:
    await imagine(emu, "a slow sunrise")
    waiting = await waiting_message(emu, harness, "a slow sunrise")
    await emu.wait_for(lambda: "%)" in emu.message(waiting.id).content, 30, what="rendering")
    job_id = job_id_of(waiting)
    await wait_status(emu, harness, job_id, JobStatus.RUNNING)

    pressed = time.monotonic()
    click = await emu.click(waiting.id, custom_id(waiting, "❌"), emu.alice)
    assert (await emu.response_of(click))["type"] == 6  # acknowledged at once
    await wait_status(emu, harness, job_id, JobStatus.CANCELLED)
    assert time.monotonic() - pressed < 10  # a 5000-step job: minutes to the end
    final = await stopped(emu, waiting)
    assert re.fullmatch(rf"\*\*a slow sunrise\*\* - <@{emu.alice.id}> \(Stopped\)", final.content)
    assert click.followups == []  # the message says it all
    # the GPU is free again: someone else's job runs at once
    assert harness.bot is not None
    quick = harness.bot.deps.engine.submit(
        GenerationRequest(prompt=(WeightedText("quick"),), steps=1, count=1)
    )
    await quick.future


@pytest.mark.bot_settings(mj_steps=LONG)
async def test_cancel_is_only_for_the_jobs_owner_and_works_by_reaction(
    emu: Emulator, harness: BotHarness, reactions_log: pytest.LogCaptureFixture
) -> None:
    await imagine(emu, "a guarded castle")
    waiting = await waiting_message(emu, harness, "a guarded castle")
    job_id = job_id_of(waiting)

    click = await emu.click(waiting.id, custom_id(waiting, "❌"), emu.bob)
    reply = await ephemeral_reply(emu, click)
    assert reply.content == f"Only <@{emu.alice.id}> can cancel this job."
    await emu.react(waiting.id, "❌", emu.bob)
    await ignored(emu, reactions_log, job_id, "❌", emu.bob)
    await wait_status(emu, harness, job_id, JobStatus.RUNNING, timeout=30)
    assert "❌" in labels_of(emu.message(waiting.id))

    await emu.react(waiting.id, "❌", emu.alice)
    await stopped(emu, waiting)
    await wait_status(emu, harness, job_id, JobStatus.CANCELLED)


# -- ✉️ ---------------------------------------------------------------------------------------


async def test_envelope_sends_job_id_seeds_parameters_and_images_to_dms(
    emu: Emulator, harness: BotHarness, reactions_log: pytest.LogCaptureFixture
) -> None:
    prompt = "a paper boat --seed 42 --no rain"
    await imagine(emu, prompt)
    grid = await wait_result(emu, r"a paper boat --seed 42 --no rain\*\* - <@\d+> \(fast\)$")
    record = await delivered(emu, harness, grid)

    await emu.react(grid.id, "✉️", emu.bob)
    await ignored(emu, reactions_log, record.id, "✉", emu.bob)
    await emu.react(grid.id, "✉️", emu.alice)
    dm = (await emu.wait_for(lambda: emu.dms(emu.alice), 30, what="the ✉️ DM"))[0]
    seeds = [image.seed for image in record.images]
    lines = dm.content.split("\n")
    assert lines[:4] == [
        f"**Job ID**: {record.id}",
        f"**seed** {seeds[0]}",
        "**seeds** " + " ".join(str(seed) for seed in seeds),
        f"**Prompt**: {prompt}",
    ]
    assert "**Model**: builtin:tiny" in lines
    assert "**Size**: 256×256" in lines
    assert any(re.fullmatch(r"\*\*Steps\*\*: \d+", line) for line in lines)
    assert any(line.startswith("**Guidance**: ") for line in lines)
    assert "**Negative prompt**: rain" in lines
    assert len(dm.attachments) == 4
    assert [a.filename for a in dm.attachments] == [f"{record.id}_{n}.png" for n in (1, 2, 3, 4)]
    assert image_of(emu, dm).size == (256, 256)
    assert emu.dms(emu.bob) == []  # not bob's job: nothing happened


def job_id_of_result(message: Message) -> str:
    return custom_id(message, "U1").split(":")[2]


async def delivered(emu: Emulator, harness: BotHarness, result: Message) -> Job:
    """The job of a result message, once the bot has recorded that message as its result
    (reactions find the job through it; Discord shows the message a moment earlier)."""
    job_id = job_id_of_result(result)
    deadline = time.monotonic() + 15
    while (found := await job(harness, job_id)).result_message_id != result.id:
        assert time.monotonic() < deadline, f"job {job_id}: result message not recorded"
        await asyncio.sleep(0.05)
    return found


# -- /info ------------------------------------------------------------------------------------


@pytest.mark.bot_settings(mj_max_active_jobs=1, mj_steps=LONG)
async def test_info_counts_running_and_queued_jobs(emu: Emulator, harness: BotHarness) -> None:
    await imagine(emu, "a running river")
    running = await waiting_message(emu, harness, "a running river")
    await wait_status(emu, harness, job_id_of(running), JobStatus.RUNNING, timeout=30)
    await imagine(emu, "a waiting lake --relax")
    await waiting_message(emu, harness, "a waiting lake")

    record = await emu.slash("info", emu.alice)
    reply = await ephemeral_reply(emu, record)
    [embed] = reply.embeds
    assert embed["title"] == "Your info"
    lines = embed["description"].split("\n")
    assert lines[:9] == [
        f"**User ID**: {emu.alice.id}",
        "**Job Mode**: Fast",
        "**Visibility Mode**: Public",
        "**Fast Time Used**: 0.0 seconds",
        "**Relaxed Usage**: 0.0 seconds",
        "**Lifetime Usage**: 0 images (0.0 seconds)",
        "**Queued Jobs (fast)**: 0",
        "**Queued Jobs (relax)**: 1",
        "**Running Jobs**: 1",
    ]
    assert lines[10] == "1. a running river (fast) — running"
    assert lines[11] == (
        "2. a waiting lake --relax (relaxed) — waiting for one of your other jobs to finish"
    )
    assert emu.message(running.id).content.endswith("(fast)")  # nothing else changed


async def test_info_reports_usage_and_engine_queue_position(
    emu: Emulator, harness: BotHarness
) -> None:
    await imagine(emu, "a small cloud")
    await wait_result(emu, r"a small cloud\*\* - <@\d+> \(fast\)$")
    blocker = occupy_the_gpu(harness)
    await imagine(emu, "a patient cloud")
    job_id = job_id_of(await waiting_message(emu, harness, "a patient cloud"))
    assert harness.bot is not None
    deps = harness.bot.deps
    await emu.wait_for(lambda: deps.runner.in_engine(job_id), 15, what="the job in the GPU queue")

    reply = await ephemeral_reply(emu, await emu.slash("info", emu.alice))
    lines = reply.embeds[0]["description"].split("\n")
    assert "**Lifetime Usage**: 4 images" in lines[5]
    assert re.fullmatch(r"\*\*Fast Time Used\*\*: \d+\.\d+ (seconds|minutes)", lines[3])
    async with deps.db.session() as session:
        assert (await get_or_create_user(session, emu.alice.id)).gpu_seconds_fast > 0
    assert lines[6] == "**Queued Jobs (fast)**: 1"
    assert re.fullmatch(
        r"1\. a patient cloud \(fast\) — queued · "
        r"Position 1 in the queue · starts <t:\d+:R>",  # behind the blocker
        lines[10],
    )
    await free_the_gpu(blocker)


# -- /show ------------------------------------------------------------------------------------


async def test_show_revives_a_deleted_job_with_working_buttons(
    emu: Emulator, harness: BotHarness
) -> None:
    grid = await wait_result_of(emu, "a lost kite --seed 3")
    job_id = job_id_of_result(grid)
    await emu.delete_message(grid.id)

    record = await show(emu, job_id)
    revived = await wait_result(emu, r"a lost kite --seed 3\*\* - <@\d+> \(fast\)$")
    assert revived.id != grid.id
    assert labels(revived) == [["U1", "U2", "U3", "U4", "🔄"], ["V1", "V2", "V3", "V4"]]
    assert emu.attachment_bytes(revived.attachments[0]) == emu.attachment_bytes(grid.attachments[0])
    await emu.wait_for(lambda: record.original_message is None or record.original_message.deleted)
    assert (await job(harness, job_id)).result_message_id == revived.id

    # its buttons work, and so do reactions on it
    await emu.click(revived.id, custom_id(revived, "U1"), emu.alice)
    single = await wait_result(emu, rf"a lost kite --seed 3\*\* - Image #1 <@{emu.alice.id}>$")
    assert image_of(emu, single).size == (256, 256)
    await emu.react(revived.id, "✉️", emu.alice)
    dm = (await emu.wait_for(lambda: emu.dms(emu.alice), 30, what="the ✉️ DM"))[0]
    assert dm.content.startswith(f"**Job ID**: {job_id}\n")

    # a single-image job comes back with the upscale row
    await emu.click(single.id, custom_id(single, "Upscale (Subtle)"), emu.alice)
    upscaled = await wait_result(emu, r"Upscaled \(Subtle\) by <@\d+> \(fast\)$")
    await show(emu, job_id_of_single(upscaled))
    again = await wait_result(emu, r"Upscaled \(Subtle\) by <@\d+> \(fast\)$", count=2)
    assert labels(again) == labels(upscaled)


async def wait_result_of(emu: Emulator, prompt: str) -> Message:
    await imagine(emu, prompt)
    return await wait_result(emu, rf"{re.escape(prompt)}\*\* - <@\d+> \(fast\)$")


def job_id_of_single(message: Message) -> str:
    return custom_id(message, "Vary (Subtle)").split(":")[2]


async def test_show_refuses_bad_ids_others_jobs_and_unfinished_ones(
    emu: Emulator, harness: BotHarness
) -> None:
    assert await refusal(emu, await show(emu, "not-a-job")) == (
        "Invalid job ID",
        "`not-a-job` is not a job ID. Job IDs look like "
        "`9333dcd0-681e-4840-a29c-801e502ae424`: find them at the end of an image's file "
        "name, or react ✉️ to a job to get it in your DMs.",
    )
    unknown = str(uuid.uuid4())
    assert await refusal(emu, await show(emu, unknown)) == (
        "Invalid job ID",
        f"There is no job with ID `{unknown}`.",
    )
    blocker = occupy_the_gpu(harness)
    await imagine(emu, "a pending painting")
    job_id = job_id_of(await waiting_message(emu, harness, "a pending painting"))
    assert await refusal(emu, await show(emu, job_id, emu.bob)) == (
        "Not your job",
        "/show only works on your own jobs.",
    )
    title, text = await refusal(emu, await show(emu, job_id))
    assert (title, text) == (
        "Not finished",
        f"That job is still queued; it will be posted in <#{emu.channel_id}>.",
    )
    await free_the_gpu(blocker)


# -- Discord's limits -------------------------------------------------------------------------


def test_info_job_list_stays_within_the_embed_limit() -> None:
    head = "**User ID**: 1\n**Running Jobs**: 3"
    items = [f"{n}. {'a very long prompt ' * 4} (fast) — running" for n in range(1, 501)]
    text = fit_lines(head, items, 4096)
    assert len(text) <= 4096
    shown = text.count("— running")
    assert text.endswith(f"\n…and {500 - shown} more")
    assert fit_lines(head, items[:2], 4096) == f"{head}\n\n{items[0]}\n{items[1]}"


def test_envelope_message_stays_within_discords_2000_characters() -> None:
    images = [SimpleNamespace(seed=seed) for seed in (11, 12, 13, 14)]
    job = SimpleNamespace(
        id=str(uuid.uuid4()),
        images=images,
        seeds=[],
        prompt="an endless prompt " * 400,
        model="builtin:tiny",
        parameters={"effective": {"steps": 8, "negative_prompt": "no " * 400, "tile": False}},
    )
    text = dm_text(job)
    assert len(text) <= 2000
    lines = text.split("\n")
    assert lines[:3] == [f"**Job ID**: {job.id}", "**seed** 11", "**seeds** 11 12 13 14"]
    assert lines[3].startswith("**Prompt**: an endless prompt")
    assert lines[3].endswith("…")
    assert "**Steps**: 8" in lines
    assert not any(line.startswith("**Tile**") for line in lines)  # off: left out
