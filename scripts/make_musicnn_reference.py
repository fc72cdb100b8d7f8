"""Make the musicnn reference fixtures (tests/fixtures/musicnn/*.npz) with the ORIGINAL TF graph.

This runs in a throwaway virtual environment with TensorFlow, never in the project's (TensorFlow
is not a project dependency, and recsys never imports it)::

    python3.11 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu librosa==0.11.0 soundfile
    /tmp/tfenv/bin/pip install --no-deps musicnn==0.1.0
    /tmp/tfenv/bin/python scripts/make_musicnn_reference.py            # from the repository root

(checked with tensorflow-cpu 2.21.0, numpy 2.4.6, librosa 0.11.0, Python 3.11). It reads clips
from ../shared/media/audio (``--media`` overrides) and writes one ``.npz`` per clip.

What it does, per clip:

1. Decode with ``librosa.load(sr=16000)`` (as the wheel's extractor does), keep a few seconds,
   quantise to int16 (so the fixture stores the exact input) and write a 16 kHz WAV.
2. Run the wheel's own front end, ``musicnn.extractor.batch_data(wav, 187, 187)`` (its default
   ``input_overlap=False``), and compute the same mel power with the identical librosa call,
   rounded to float16 as the wheel does. Check that ``log10(10000 x + 1)`` of that in float16
   equals the wheel's batch bit for bit, so the stored mel power IS the wheel's.
3. Feed the original graph (``.meta`` imported with ``tf.compat.v1.train.import_meta_graph``,
   weights restored with its ``Saver``) the patches ``log10(10000 x + 1)`` computed in float32,
   which is exactly what recsys' front end produces (see recsys/encoders/musicnn.py for why not
   the wheel's float16 log: it overflows on loud music). The graph is fed
   ``is_training=False``. Also run the graph on the wheel's own float16 patches, and report
   whether they were finite.
4. Save: ``audio_int16`` (n,), ``mel_f16`` (patches, 187, 96) float16 mel power (the wheel's
   front end output before the log), and for MTT and MSD: ``{m}_probs`` (patches, 50) sigmoid
   output, ``{m}_logits`` (patches, 50), ``{m}_penultimate`` (patches, 200) (the back-end's
   batch-normalised dense layer, ``model/batch_normalization_10/batchnorm/add_1``).

A clip shorter than one patch (2.976 s) is repeated end to end to 47616 samples before step 2,
as recsys does (the wheel itself fails on it: ``batch`` is never assigned).

The TF 1.12 ``.meta`` files carry ``_output_shapes`` attributes that TF 2 rejects on import
(training-gradient nodes of FusedBatchNorm); they are only shape hints, so they are deleted
before import. Nothing else in the graph is changed.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SR = 16000
N_FRAMES = 187
MIN_SAMPLES = (N_FRAMES - 1) * 256
MODELS = ("MTT_musicnn", "MSD_musicnn")
INPUT = "model/Placeholder:0"
IS_TRAINING = "model/Placeholder_2:0"
PROBS = "model/Sigmoid:0"
LOGITS = "model/dense_1/BiasAdd:0"
PENULTIMATE = "model/batch_normalization_10/batchnorm/add_1:0"

# (fixture name, path under media/audio, offset s, duration s): a music track, a percussion
# one-shot phrase, a voice, and a clip shorter than one patch (exercises the repeat padding).
CLIPS = (
    ("music_vibe_ace", "librosa/Kevin_MacLeod_-_Vibe_Ace.ogg", 20.0, 6.0),
    ("percussion_bendir", "smstools/bendir.wav", 0.0, 3.2),
    ("voice_speech_female", "smstools/speech-female.wav", 0.0, 4.0),
    ("short_mridangam", "smstools/mridangam.wav", 0.0, 2.0),
)


def _wheel_folder() -> Path:
    spec = importlib.util.find_spec("musicnn")
    if spec is None:
        sys.exit("install the wheel first: pip install --no-deps musicnn==0.1.0")
    return Path(next(iter(spec.submodule_search_locations)))


def _load_graph(tf, model: str):
    """(session, graph) of the original training graph with the checkpoint's weights."""
    folder = _wheel_folder() / model
    meta = tf.compat.v1.MetaGraphDef()
    meta.ParseFromString((folder / ".meta").read_bytes())
    for node in meta.graph_def.node:
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        sess = tf.compat.v1.Session(graph=graph)
        saver.restore(sess, str(folder) + "/")
    return sess, graph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parent.parent
    parser.add_argument("--media", type=Path, default=root.parent / "shared" / "media" / "audio")
    parser.add_argument("--out", type=Path, default=root / "tests" / "fixtures" / "musicnn")
    args = parser.parse_args()

    import librosa
    import soundfile as sf
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    from musicnn.extractor import batch_data  # the wheel's own front end

    sessions = {m: _load_graph(tf, m) for m in MODELS}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rel, offset, duration in CLIPS:
        y, _ = librosa.load(str(args.media / rel), sr=SR, offset=offset, duration=duration)
        audio_int16 = np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)
        wave = audio_int16.astype(np.float32) / 32768.0  # what librosa.load returns for PCM_16
        if wave.shape[0] < MIN_SAMPLES:
            wave = np.tile(wave, -(-MIN_SAMPLES // wave.shape[0]))[:MIN_SAMPLES]
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "clip.wav"
            sf.write(str(wav), wave, SR, subtype="FLOAT")  # float WAV: the exact samples
            wheel_batch, _ = batch_data(str(wav), N_FRAMES, N_FRAMES)
            loaded, _ = librosa.load(str(wav), sr=SR)
        assert np.array_equal(loaded, wave), "WAV round trip changed the samples"

        # The same call as batch_data, stopped before the float16 log.
        mel = librosa.feature.melspectrogram(y=wave, sr=SR, hop_length=256, n_fft=512, n_mels=96).T
        mel16 = mel.astype(np.float16)
        n = (mel16.shape[0] - N_FRAMES) // N_FRAMES + 1
        mel16 = mel16[: n * N_FRAMES].reshape(n, N_FRAMES, 96)
        with np.errstate(over="ignore"):
            wheel_log = np.log10(10000 * mel16 + 1)  # float16, as the wheel
        assert wheel_log.shape == wheel_batch.shape and np.array_equal(wheel_log, wheel_batch, equal_nan=True)
        overflow = int(np.isinf(wheel_batch).sum())
        patches = np.log10(np.float32(10000.0) * mel16.astype(np.float32) + np.float32(1.0))

        record = {"audio_int16": audio_int16, "mel_f16": mel16}
        for model, (sess, graph) in sessions.items():
            probs, logits, pen = sess.run([PROBS, LOGITS, PENULTIMATE],
                                          feed_dict={INPUT: patches, IS_TRAINING: False})
            stock = sess.run(PROBS, feed_dict={INPUT: wheel_batch.astype(np.float32), IS_TRAINING: False})
            key = model.split("_")[0].lower()
            record[f"{key}_probs"] = probs.astype(np.float32)
            record[f"{key}_logits"] = logits.astype(np.float32)
            record[f"{key}_penultimate"] = pen.astype(np.float32)
            top = np.argsort(-probs.mean(0))[:3]
            print(f"{name:22s} {model}: {n} patch(es); float16 overflow in {overflow} frame-bands; "
                  f"stock float16 input gives finite tags: {bool(np.isfinite(stock).all())}, "
                  f"max |stock - float32| {np.nanmax(np.abs(stock - probs)) if np.isfinite(stock).any() else float('nan'):.2e}; "
                  f"top tags idx {top.tolist()}")
        np.savez_compressed(args.out / f"{name}.npz", **record)
    total = sum(p.stat().st_size for p in args.out.glob("*.npz"))
    print(f"wrote {len(CLIPS)} fixtures to {args.out} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
