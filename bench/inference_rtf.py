"""Real-time factor and throughput of the Triton models, through inference_client over gRPC.

    python -m bench.inference_rtf                      # against the stack's Triton (TRITON_GRPC_URL / _PORT)
    python -m bench.inference_rtf --private            # a private Triton on free ports serving triton_models/
    python -m bench.inference_rtf --url 127.0.0.1:8001 --only rtf --requests 16
    python -m bench.inference_rtf --only batching      # dynamic batching on vs off (two private Tritons)

**RTF** (section ``rtf``): for synthesis (system voice, and a cloned voice: ``synthesize`` with a PROFILE) and for
enrolment (``enroll`` of a WAV reference), each request's wall time (client → Triton → client) divided by the
seconds of audio it made (synthesis) or read (enrolment). RTF 0.1 = ten times faster than real time. At
concurrency 1 (requests one after another) and 4 (four clients at once); median and p99 per request, and the
throughput: requests/s and seconds of audio per wall second.

Kokoro (the default system voices) is measured with one English voice on the same sentences, with a sentence per
language (``KOKORO_SENTENCES``), and with a speed change plus an exact duration; flite (the fallback voices) as
before. ``--only kokoro-cpu`` runs Kokoro without Triton, the ``synthesize`` model's code in one worker process per
configuration (``--kokoro-configs``: interpreter - hence ONNX Runtime version -, threads, sentence workers,
spin-waiting), and prints CPU-seconds per second of audio (the load-independent cost on a shared machine) next to
the wall RTF, median and p99, for single sentences and 3-sentence paragraphs, stock and cloned voices.

**Batching** (section ``batching``): the same load against two configurations of a model - dynamic batching on
(``max_batch_size`` 8, ragged AUDIO, 2 ms queue delay) and off (``max_batch_size`` 0) - each served by a private
Triton on a temporary copy of ``triton_models/`` (only that model and ``voicekit``), one after the other, so they
never compete for the cores. ``speaker_encoder`` (batch-aware: the LSTM runs the partials of all batched requests
together) and ``encode_audio`` (requests encoded one by one either way). Per concurrency level: requests/s,
latency median and p99, and the mean batch size Triton actually formed (inference count / execution count).

The inputs are made on the spot by the models themselves (``synthesize``, ``encode_audio``): nothing is read from
disk. Small numbers of requests make p99 close to the maximum; use ``--requests`` for more.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

import numpy as np

from bench.private_triton import MODEL_REPO, PrivateTriton, copy_model_repository, set_batching
from bench.stats import percentile
from inference_client import Audio, InferenceClient
from service_config import load

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "On the third of March, twenty five people met at the old station to talk about the new timetable.",
    "A journey of a thousand miles begins with a single step, and the first one is often the hardest.",
    ("When the sunlight strikes raindrops in the air, they act as a prism and form a rainbow. The rainbow is a "
     "division of white light into many beautiful colors. These take the shape of a long round arch, with its "
     "path high above, and its two ends apparently beyond the horizon."),
]
# One short sentence per Kokoro language, with its stock voice (the "kokoro, 9 languages" workload).
KOKORO_SENTENCES = [
    ("af_heart", "The quick brown fox jumps over the lazy dog, twice on the 3rd of May."),
    ("bm_george", "Please call Stella and ask her to bring these things with her from the store."),
    ("ef_dora", "El veloz murciélago hindú comía feliz cardillo y kiwi, a las 10 de la mañana."),
    ("ff_siwis", "Le vif renard brun saute par-dessus le chien paresseux, deux fois par jour."),
    ("if_sara", "La volpe marrone salta sopra il cane pigro, per la terza volta oggi."),
    ("pf_dora", "A rápida raposa marrom pula sobre o cão preguiçoso, duas vezes por dia."),
    ("hf_alpha", "तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर से कूदती है, दिन में दो बार।"),
    ("zf_xiaobei", "敏捷的棕色狐狸跳过了懒狗，一天两次。"),
    ("jf_alpha", "素早い茶色の狐が怠け者の犬を飛び越えます、一日に二回。"),
]
REFERENCE_TEXT = ("The north wind and the sun were disputing which was the stronger, when a traveler came along "
                  "wrapped in a warm cloak. They agreed that the one who first succeeded in making the traveler "
                  "take his cloak off should be considered stronger than the other.")


@dataclass
class Run:
    """One workload at one concurrency: per-request latency and the seconds of audio each request covered."""

    name: str
    concurrency: int
    latencies: list[float]
    audio_s: list[float]
    wall_s: float
    batch: float | None = None  # mean batch size Triton formed (batching section)

    @property
    def rtf(self) -> list[float]:
        return [lat / max(audio, 1e-9) for lat, audio in zip(self.latencies, self.audio_s, strict=True)]

    def rtf_row(self) -> str:
        rtf = self.rtf
        return (f"{self.name:<26} {self.concurrency:>4} {len(rtf):>4} {statistics.median(rtf):>8.3f} "
                f"{percentile(rtf, 99):>8.3f} {1000 * statistics.median(self.latencies):>9.0f} "
                f"{1000 * percentile(self.latencies, 99):>9.0f} {len(rtf) / self.wall_s:>7.2f} "
                f"{sum(self.audio_s) / self.wall_s:>8.1f}")

    def batching_row(self, config: str) -> str:
        batch = "-" if self.batch is None else f"{self.batch:.2f}"
        return (f"{self.name:<16} {config:<10} {self.concurrency:>4} {len(self.latencies):>4} "
                f"{len(self.latencies) / self.wall_s:>8.2f} {1000 * statistics.median(self.latencies):>9.0f} "
                f"{1000 * percentile(self.latencies, 99):>9.0f} {batch:>6}")


RTF_HEADER = (f"{'workload':<26} {'conc':>4} {'n':>4} {'RTF med':>8} {'RTF p99':>8} {'lat med':>9} {'lat p99':>9} "
              f"{'req/s':>7} {'audio/s':>8}\n{'':<26} {'':>4} {'':>4} {'':>8} {'':>8} {'ms':>9} {'ms':>9} {'':>7} "
              f"{'x RT':>8}")
BATCH_HEADER = (f"{'model':<16} {'batching':<10} {'conc':>4} {'n':>4} {'req/s':>8} {'lat med':>9} {'lat p99':>9} "
                f"{'batch':>6}\n{'':<16} {'':<10} {'':>4} {'':>4} {'':>8} {'ms':>9} {'ms':>9} {'mean':>6}")


async def load_run(name: str, concurrency: int, requests: int,
                   call: Callable[[int], Awaitable[float]]) -> Run:
    """``requests`` calls of ``call(i)`` (returns the seconds of audio it covered) by ``concurrency`` workers."""
    latencies: list[float] = [0.0] * requests
    audio: list[float] = [0.0] * requests
    queue = iter(range(requests))

    async def worker() -> None:
        for i in queue:
            started = time.perf_counter()
            seconds = await call(i)
            latencies[i] = time.perf_counter() - started
            audio[i] = seconds

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Run(name, concurrency, latencies, audio, time.perf_counter() - started)


# ------------------------------------------------------------------------------------------------------ RTF section


async def rtf_section(url: str, requests: int, concurrencies: list[int], timeout_s: float,
                      only: list[str] | None = None) -> list[Run]:
    runs: list[Run] = []
    async with InferenceClient(url, timeout_s=timeout_s) as client:
        # Inputs, made by the models themselves: a ~13 s reference recording (WAV) and its voice profile.
        reference_audio = await client.synthesize(REFERENCE_TEXT, "rms")
        reference = (await client.encode(reference_audio, "wav")).data
        needs_profile = not only or any(word in "kokoro clone enroll" for word in only)
        profile = await client.enroll(reference) if needs_profile else None
        if profile is not None:
            print(f"reference: {reference_audio.duration_s:.1f} s (rms, WAV {len(reference) // 1024} KiB); "
                  f"cloned profile: engine voice {profile.engine_voice}", flush=True)
        for text in SENTENCES:  # warm-up: first calls import and cache
            await client.synthesize(text, "slt")

        async def synth(i: int) -> float:
            audio = await client.synthesize(SENTENCES[i % len(SENTENCES)], "slt")
            return audio.duration_s

        async def kokoro_en(i: int) -> float:
            audio = await client.synthesize(SENTENCES[i % len(SENTENCES)], "af_heart")
            return audio.duration_s

        async def kokoro_languages(i: int) -> float:
            voice, text = KOKORO_SENTENCES[i % len(KOKORO_SENTENCES)]
            return (await client.synthesize(text, voice)).duration_s

        async def kokoro_duration(i: int) -> float:  # speed 1.3 (the model's input) + an exact duration (WSOLA)
            text = SENTENCES[i % len(SENTENCES)]
            audio = await client.synthesize_with_profile(text, "am_michael", None, speed=1.3,
                                                         duration_s=0.06 * len(text))
            return audio.duration_s

        for voice, text in KOKORO_SENTENCES:  # warm-up: each language's front end
            await client.synthesize(text, voice)

        async def synth_cloned(i: int) -> float:
            assert profile is not None
            audio = await client.synthesize_with_profile(SENTENCES[i % len(SENTENCES)], profile.engine_voice,
                                                         profile.profile)
            return audio.duration_s

        async def synth_encoded(i: int) -> float:  # what a TTS job does: synthesize, then encode (MP3)
            audio = await client.synthesize(SENTENCES[i % len(SENTENCES)], "slt")
            await client.encode(audio, "mp3")
            return audio.duration_s

        async def enrol(i: int) -> float:
            return (await client.enroll(reference)).duration_s

        workloads = [("kokoro af_heart (English)", kokoro_en), ("kokoro, 9 languages", kokoro_languages),
                     ("kokoro speed+duration", kokoro_duration),
                     ("kokoro clone (enrolled)", synth_cloned), ("flite slt (fallback)", synth),
                     ("flite + encode mp3", synth_encoded),
                     (f"enroll ({reference_audio.duration_s:.0f} s WAV)", enrol)]
        for name, call in workloads:
            if only and not any(word in name for word in only):
                continue
            for concurrency in concurrencies:
                n = max(requests, 2 * concurrency)
                if name.startswith("enroll"):
                    n = max(concurrency * 2, n // 2)  # slower per request
                run = await load_run(name, concurrency, n, call)
                runs.append(run)
                print(run.rtf_row(), flush=True)
    return runs


# ------------------------------------------------------------------------------------------------ batching section


async def _batch_stats(client: InferenceClient, model: str) -> tuple[int, int]:
    stats = await client._grpc().get_inference_statistics(model, as_json=True)
    entry = stats["model_stats"][0]
    return int(entry.get("inference_count", 0)), int(entry.get("execution_count", 0))


async def batching_load(url: str, model: str, clips: list[Audio], requests: int,
                        concurrencies: list[int], timeout_s: float) -> list[Run]:
    runs = []
    async with InferenceClient(url, timeout_s=timeout_s) as client:
        if model == "speaker_encoder":
            async def call(i: int) -> float:
                clip = clips[i % len(clips)]
                await client.embed(clip)
                return clip.duration_s
        else:
            async def call(i: int) -> float:
                clip = clips[i % len(clips)]
                await client.encode(clip, "mp3")
                return clip.duration_s
        for i in range(len(clips)):  # warm-up
            await call(i)
        for concurrency in concurrencies:
            before = await _batch_stats(client, model)
            run = await load_run(model, concurrency, max(requests, 2 * concurrency), call)
            after = await _batch_stats(client, model)
            executions = after[1] - before[1]
            run.batch = (after[0] - before[0]) / executions if executions else None
            runs.append(run)
    return runs


def batching_repository(directory: Path, model: str, batching: bool) -> Path:
    repo = copy_model_repository(directory, [model])
    config = repo / model / "config.pbtxt"
    config.write_text(set_batching(config.read_text(), 8 if batching else 0))
    return repo


async def make_clips(url: str, timeout_s: float) -> list[Audio]:
    """Speech of 1.5-6 s from the four system voices (the batching section's inputs)."""
    async with InferenceClient(url, timeout_s=timeout_s) as client:
        return [await client.synthesize(text, voice)
                for text, voice in zip(SENTENCES[:4], ["slt", "awb", "rms", "kal16"], strict=True)]


def batching_section(clips_url: str | None, requests: int, concurrencies: list[int], models: list[str],
                     rounds: int, timeout_s: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-batching-") as tmp:
        if clips_url is None:  # no server given: one private Triton with synthesize to make the inputs
            with PrivateTriton(copy_model_repository(Path(tmp) / "synth", ["synthesize"])) as server:
                clips = asyncio.run(make_clips(server.grpc_url, timeout_s))
        else:
            clips = asyncio.run(make_clips(clips_url, timeout_s))
        print(f"inputs: {len(clips)} clips, {', '.join(f'{c.duration_s:.1f}' for c in clips)} s", flush=True)
        print(BATCH_HEADER, flush=True)
        for model in models:
            results: dict[tuple[str, int], list[Run]] = {}
            for round_ in range(rounds):  # on / off alternate, so slow phases of a shared machine hit both
                for batching in (True, False):
                    label = "on" if batching else "off"
                    repo = batching_repository(Path(tmp) / f"{model}-{label}-{round_}", model, batching)
                    with PrivateTriton(repo) as server:
                        for run in asyncio.run(batching_load(server.grpc_url, model, clips, requests,
                                                             concurrencies, timeout_s)):
                            results.setdefault((label, run.concurrency), []).append(run)
                            print(run.batching_row(label + (f" r{round_ + 1}" if rounds > 1 else "")),
                                  flush=True)
            if rounds > 1:
                for (label, concurrency), runs in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
                    merged = Run(model, concurrency, [x for r in runs for x in r.latencies],
                                 [x for r in runs for x in r.audio_s], sum(r.wall_s for r in runs),
                                 statistics.mean(r.batch for r in runs if r.batch is not None)
                                 if any(r.batch is not None for r in runs) else None)
                    print(merged.batching_row(f"{label} all"), flush=True)


# ----------------------------------------------------------------------------------------------- instances section


async def instances_load(url: str, model: str, reference: tuple[Audio, bytes], requests: int, concurrency: int,
                         timeout_s: float) -> Run:
    async with InferenceClient(url, timeout_s=timeout_s) as client:
        if model == "synthesize":
            async def call(i: int) -> float:
                return (await client.synthesize(SENTENCES[i % len(SENTENCES)], "slt")).duration_s
        elif model == "encode_audio":
            async def call(i: int) -> float:
                return (await client.encode(reference[0], ("mp3", "opus")[i % 2])).duration_s
        else:
            async def call(i: int) -> float:
                return (await client.enroll(reference[1])).duration_s
        await asyncio.gather(*(call(i) for i in range(concurrency)))  # warm-up: every instance
        return await load_run(model, concurrency, requests, call)


def instances_section(requests: int, concurrency: int, models: list[str], counts: list[int], rounds: int,
                      timeout_s: float) -> None:
    """Throughput of ``models`` at ``concurrency`` with each instance count (private Tritons, one at a time)."""
    from bench.private_triton import set_instances

    with tempfile.TemporaryDirectory(prefix="bench-instances-") as tmp:
        with PrivateTriton(copy_model_repository(Path(tmp) / "ref", ["synthesize", "encode_audio"])) as server:
            async def make_reference() -> tuple[Audio, bytes]:
                async with InferenceClient(server.grpc_url, timeout_s=timeout_s) as client:
                    audio = await client.synthesize(REFERENCE_TEXT, "rms")
                    return audio, (await client.encode(audio, "wav")).data
            reference = asyncio.run(make_reference())
        print(f"{'model':<16} {'instances':>9} {'conc':>4} {'n':>4} {'req/s':>8} {'RTF med':>8} {'RTF p99':>8} "
              f"{'lat med':>9} {'lat p99':>9}", flush=True)
        for model in models:
            for round_ in range(rounds):
                for count in counts:
                    repo = copy_model_repository(Path(tmp) / f"{model}-{count}-{round_}", [model])
                    config = repo / model / "config.pbtxt"
                    config.write_text(set_instances(config.read_text(), count))
                    with PrivateTriton(repo) as server:
                        run = asyncio.run(instances_load(server.grpc_url, model, reference, requests, concurrency,
                                                         timeout_s))
                    rtf = run.rtf
                    print(f"{model:<16} {count:>9} {concurrency:>4} {len(rtf):>4} {len(rtf) / run.wall_s:>8.2f} "
                          f"{statistics.median(rtf):>8.3f} {percentile(rtf, 99):>8.3f} "
                          f"{1000 * statistics.median(run.latencies):>9.0f} "
                          f"{1000 * percentile(run.latencies, 99):>9.0f}", flush=True)


# --------------------------------------------------------------------------------------------- kokoro-cpu section


KOKORO_CONFIGS = "int8-t1=triton:1:2:int8,float-t1=triton:1:2,int8-t2=triton:2:2:int8,float-t2=triton:2:2"
PYTHONS = {"venv": sys.executable, "triton": str(Path(__file__).resolve().parents[1] / ".stack" / "venvs" / "triton"
                                                 / "bin" / "python")}


@dataclass
class KokoroConfig:
    """``label=python:threads:workers[:spin][:int8][:unlevelled]``: python ``venv`` (this interpreter), ``triton``
    (the Triton venv's, i.e. the ONNX Runtime the ``synthesize`` model runs) or a path; ``spin``: ONNX Runtime's
    spin-waiting on (the old default); ``int8``: the PyPI int8 model instead of the float-convolution rewrite the
    models run (``stack/kokoro_graph.py``); ``unlevelled``: the output left at the model's loudness
    (``VOICEKIT_OUTPUT_LUFS=off``), to price ``pcm.level``."""

    label: str
    python: str
    threads: int
    workers: int
    spin: bool
    int8: bool = False
    unlevelled: bool = False

    @classmethod
    def parse(cls, spec: str) -> "KokoroConfig":
        label, _, rest = spec.partition("=")
        python, threads, workers, *flags = rest.split(":")
        return cls(label, PYTHONS.get(python, python), int(threads), int(workers), "spin" in flags, "int8" in flags,
                   "unlevelled" in flags)


def kokoro_cases() -> list[tuple[str, str, str, dict | None]]:
    """(group, voice, text, profile): a sentence in each front end's language (espeak-ng: US English, Spanish;
    misaki: Mandarin; OpenJTalk: Japanese), and a cloned voice (a version-3 profile: a recipe over three stock
    voices, rebuilt into a style pack per request as the model does) saying a sentence and a three-sentence
    paragraph; the stock voice says the same paragraph."""
    from voicekit import kokoro_enrol

    weights = [0.5, 0.3, 0.2]
    recipe = kokoro_enrol.Recipe(("af_heart", "af_bella", "af_nova"), np.array(weights), np.array(weights))
    clone = {"version": 3, "method": kokoro_enrol.METHOD, "engineVoice": "af_heart", "style": recipe.to_dict()}
    paragraph = SENTENCES[4]  # three sentences: the workers run them in parallel
    return ([("sentence", voice, text, None) for voice, text in KOKORO_SENTENCES
             if voice in ("af_heart", "ef_dora", "zf_xiaobei", "jf_alpha")]
            + [("sentence", "af_heart", SENTENCES[1], clone), ("paragraph", "af_heart", paragraph, None),
               ("paragraph", "af_heart", paragraph, clone)])


def kokoro_cpu_section(configs: list[KokoroConfig], repeats: int) -> None:
    """Kokoro without Triton: ``Synthesizer.speak`` (the ``synthesize`` model's code) in one worker process per
    configuration (``bench/kokoro_worker.py``), requests sent round-robin so the load of a shared machine falls on
    all configurations alike. Per configuration and group (single sentences / 3-sentence paragraphs): CPU-seconds
    per second of audio (the process's, all threads, plus espeak-ng's; the load-independent cost) and the wall
    RTF, median and p99, and which configurations made the same samples for every text (equal digests)."""
    import json
    import os
    import subprocess

    worker_py = str(Path(__file__).resolve().with_name("kokoro_worker.py"))
    missing = sorted({c.python for c in configs if not Path(c.python).exists()})
    if missing:
        raise SystemExit(f"no interpreter {', '.join(missing)}: `python -m stack up triton` makes the Triton venv; "
                         "or pass --kokoro-configs with venv only")
    procs = {}
    for config in configs:
        env = dict(os.environ, VOICEKIT_KOKORO_SPIN="1" if config.spin else "0")
        if config.int8:
            from voicekit.kokoro import INT8_MODEL_FILE

            env["VOICEKIT_KOKORO_MODEL"] = INT8_MODEL_FILE
        if config.unlevelled:
            from voicekit.pcm import OUTPUT_LUFS_ENV

            env[OUTPUT_LUFS_ENV] = "off"
        procs[config.label] = subprocess.Popen([config.python, worker_py, "--threads", str(config.threads),
                                                "--workers", str(config.workers)], stdin=subprocess.PIPE,
                                               stdout=subprocess.PIPE, text=True, env=env)
    try:
        for config in configs:
            ready = json.loads(procs[config.label].stdout.readline())
            print(f"{config.label}: onnxruntime {ready['onnxruntime']}, numpy {ready['numpy']}, threads "
                  f"{config.threads}, sentence workers {config.workers}, spinning {'on' if config.spin else 'off'}, "
                  f"model {ready.get('model', '?')}, output {'as made' if config.unlevelled else 'levelled'}",
                  flush=True)
        cases = kokoro_cases()
        results: dict[tuple[str, str], list[dict]] = {}
        digests: dict[tuple[str, int], str] = {}
        loads = []
        for _ in range(repeats):
            for index, (group, voice, text, profile) in enumerate(cases):
                for config in configs:
                    proc = procs[config.label]
                    proc.stdin.write(json.dumps({"text": text, "voice": voice, "profile": profile}) + "\n")
                    proc.stdin.flush()
                    answer = json.loads(proc.stdout.readline())
                    results.setdefault((config.label, group), []).append(answer)
                    digests.setdefault((config.label, index), answer["digest"])
                loads.append(os.getloadavg()[0])
        print(f"load average during the run: {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores", flush=True)
        print(f"{'config':<14} {'group':<10} {'n':>3} {'audio s':>8} {'CPU s/s':>8} {'CPU p99':>8} "
              f"{'RTF wall':>9} {'wall p99':>9}  same samples as", flush=True)
        for config in configs:
            same = [c.label for c in configs if all(digests[(c.label, i)] == digests[(config.label, i)]
                                                     for i in range(len(cases)))]
            for group in ("sentence", "paragraph"):
                rows = results[(config.label, group)]
                cpu = [r["cpu"] / r["audio_s"] for r in rows]
                wall = [r["wall"] / r["audio_s"] for r in rows]
                print(f"{config.label:<14} {group:<10} {len(rows):>3} "
                      f"{statistics.median(r['audio_s'] for r in rows):>8.2f} {statistics.median(cpu):>8.3f} "
                      f"{percentile(cpu, 99):>8.3f} {statistics.median(wall):>9.3f} {percentile(wall, 99):>9.3f}  "
                      f"{','.join(same)}", flush=True)
    finally:
        for proc in procs.values():
            proc.stdin.close()
        for proc in procs.values():
            proc.wait(timeout=60)


# ------------------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inference_rtf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="Triton gRPC address (default: TRITON_GRPC_URL / the stack's port)")
    parser.add_argument("--private", action="store_true",
                        help="serve a copy of triton_models/ on a private Triton (free ports) for the RTF section")
    parser.add_argument("--only", choices=["rtf", "batching", "instances", "kokoro-cpu"],
                        help="run one section (default: rtf and batching; instances only when asked)")
    parser.add_argument("--requests", type=int, default=12, help="requests per workload and concurrency")
    parser.add_argument("--concurrency", default="1,4", help="RTF section concurrency levels (default 1,4)")
    parser.add_argument("--batch-concurrency", default="1,4,8", help="batching section levels (default 1,4,8)")
    parser.add_argument("--batch-requests", type=int, default=32, help="requests per level, batching section")
    parser.add_argument("--models", default="speaker_encoder,encode_audio", help="batching section models")
    parser.add_argument("--rounds", type=int, default=1, help="batching section: on/off rounds (alternating)")
    parser.add_argument("--instance-models", default="synthesize,enroll", help="instances section models")
    parser.add_argument("--instance-counts", default="1,2", help="instances section: instance counts")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request deadline, seconds")
    parser.add_argument("--workloads", default="",
                        help="RTF section: only workloads whose name contains one of these words (comma-separated)")
    parser.add_argument("--kokoro-configs", default=KOKORO_CONFIGS,
                        help="kokoro-cpu section: comma-separated label=python:threads:workers[:spin], python = "
                             "venv | triton | a path (default: %(default)s)")
    parser.add_argument("--kokoro-repeats", type=int, default=2, help="kokoro-cpu section: runs per text")
    args = parser.parse_args(argv)
    concurrencies = [int(c) for c in args.concurrency.split(",") if c]
    url = args.url or load().triton_grpc_url
    only = [word for word in args.workloads.split(",") if word]

    if args.only in (None, "rtf"):
        print(f"== RTF through Triton ({'private copy of ' + str(MODEL_REPO) if args.private else url})", flush=True)
        print(RTF_HEADER, flush=True)
        if args.private:
            with tempfile.TemporaryDirectory(prefix="bench-rtf-") as tmp:
                with PrivateTriton(copy_model_repository(Path(tmp) / "repo")) as server:
                    asyncio.run(rtf_section(server.grpc_url, args.requests, concurrencies, args.timeout, only))
        else:
            asyncio.run(rtf_section(url, args.requests, concurrencies, args.timeout, only))
    if args.only in (None, "batching"):
        print("== dynamic batching on vs off (private Tritons, one at a time)", flush=True)
        batching_section(None if args.private else url, args.batch_requests,
                         [int(c) for c in args.batch_concurrency.split(",") if c],
                         [m for m in args.models.split(",") if m], args.rounds, args.timeout)
    if args.only == "kokoro-cpu":
        print("== Kokoro in process (no Triton)", flush=True)
        kokoro_cpu_section([KokoroConfig.parse(spec) for spec in args.kokoro_configs.split(",") if spec],
                           args.kokoro_repeats)
    if args.only == "instances":
        print("== instance count (private Tritons, one at a time; concurrency 4)", flush=True)
        instances_section(max(args.requests, 8), 4, [m for m in args.instance_models.split(",") if m],
                          [int(c) for c in args.instance_counts.split(",") if c], args.rounds, args.timeout)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
