"""Ground truth for every model the app runs offline, in one command:

    python -m core.evaluate                  # the shapes world (core/shapes/evaluate.py), then speech
    python -m core.evaluate --speech         # speech only (~1 min on 2 cores)
    python -m core.evaluate --scenes 200     # fewer shapes scenes

Speech: the word-by-word sample clips (assets/speech/, made by `python -m core.inputs.speech_samples`) were spoken
one word at a time with known silences, so every word's true start and end are known. Where espeak-ng and sox are
installed, two more sets are synthesised the same way on the fly: the calibration sentences (they chose the timing
heads and the voiced snap) and the held-out ones (never used to choose anything). For each Whisper model the words
are timed from cross-attention exactly as the Listening page does (core.concepts.listening.listen), paired with the
true words they match, and the command prints the share of true word centres inside their predicted span, the share
of predicted centres inside the true word, and the mean onset error.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

SPEECH_ROLES = ("listen", "listen_fast")  # Whisper base, tiny.en (core/models/roles.py)


@dataclass(frozen=True)
class SpeechScore:
    model: str
    words: int  # paired words (true words the transcript also has) over the set's clips
    hits: int  # true word centres inside their predicted span
    mean_onset_error: float  # seconds, |predicted start - true start|
    transcripts_right: int  # clips whose words all match the truth
    clips: int
    predicted_hits: int = 0  # predicted word centres inside the true word
    true_words: int = 0  # every true word, paired or not

    @property
    def share(self) -> float:
        return self.hits / self.words if self.words else float("nan")

    @property
    def predicted_share(self) -> float:
        return self.predicted_hits / self.words if self.words else float("nan")


SpeechClip = tuple  # (text, (samples,) mono 16 kHz float32 audio, [(word, start s, end s)])


def _as_clip(text, audio, words) -> SpeechClip:
    return text, audio, [(w.word, w.start, w.end) for w in words]


def sample_clips() -> list[SpeechClip]:
    """The committed word-by-word sample clips (assets/speech/)."""
    from core.inputs import speech_samples as samples

    return [_as_clip(s.text, samples.read_wav(s.path), s.words) for s in samples.load_samples() if s.word_by_word]


def speech_sets() -> dict[str, list[SpeechClip]]:
    """The committed word-by-word clips, then (with espeak-ng and sox) the calibration and held-out sentences."""
    from core.inputs import speech_samples as samples

    sets = {"sample clips": sample_clips()}
    if samples.can_synthesize():
        for name, sentences in (("calibration", samples.TIMING_CALIBRATION), ("held out", samples.TIMING_HELD_OUT)):
            sets[name] = [_as_clip(*clip) for clip in samples.timing_clips(sentences)]
    return sets


def speech_scores(roles: tuple[str, ...] = SPEECH_ROLES, clips: list[SpeechClip] | None = None
                  ) -> list[SpeechScore]:
    """One score per Whisper role over `clips` (default: the committed word-by-word sample clips)."""
    from core.analysis.speech_alignment import compare_word_timings, pair_same_words
    from core.concepts.listening import listen
    from core.models import registry

    clips = sample_clips() if clips is None else clips
    scores = []
    for role in roles:
        loaded = registry.load("bundled", role)
        hits = predicted_hits = paired = right = true_words = 0
        onset = 0.0
        for _text, audio, truth in clips:
            heard = listen(loaded.model, loaded.processor, audio, loaded.spec.label)
            predicted = [(w.word, w.start, w.end) for w in heard.words]
            report = compare_word_timings(*pair_same_words(truth, predicted))
            hits, predicted_hits, paired = hits + report.n_hits, predicted_hits + report.n_predicted_hits, \
                paired + report.n_paired
            onset += report.mean_abs_onset_error * report.n_paired if report.n_paired else 0.0
            right += len(predicted) == len(truth) == report.n_paired
            true_words += len(truth)
        scores.append(SpeechScore(loaded.spec.label, paired, hits, onset / max(paired, 1), right, len(clips),
                                  predicted_hits, true_words))
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--speech", action="store_true", help="speech only (skip the shapes world)")
    parser.add_argument("--scenes", type=int, default=1000, help="held-out shapes scenes")
    parser.add_argument("--shift-scenes", type=int, default=300, help="held-out scenes per background for the "
                        "shift table")
    parser.add_argument("--faithfulness-scenes", type=int, default=300, help="held-out scenes per model for the "
                        "explanation methods' deletion and insertion areas")
    args = parser.parse_args(argv)
    if not args.speech:
        from core.shapes import evaluate as shapes

        sys.argv = [sys.argv[0], "--scenes", str(args.scenes), "--shift-scenes", str(args.shift_scenes),
                    "--faithfulness-scenes", str(args.faithfulness_scenes)]
        shapes.main()
        print()
    for name, clips in speech_sets().items():
        for score in speech_scores(clips=clips):
            print(f"{name:12s} {score.model:32s} word centres inside their cross-attention span: "
                  f"{score.hits}/{score.words} ({score.share:.0%}), predicted centres inside the true word "
                  f"{score.predicted_hits}/{score.words} ({score.predicted_share:.0%}), mean onset error "
                  f"{score.mean_onset_error:.2f} s, transcripts right {score.transcripts_right}/{score.clips}, "
                  f"words heard {score.words}/{score.true_words}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
