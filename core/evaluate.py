"""Ground truth for every model the app runs offline, in one command:

    python -m core.evaluate                  # the shapes world (core/shapes/evaluate.py), then speech
    python -m core.evaluate --speech         # speech only (~1 min on 2 cores)
    python -m core.evaluate --scenes 200     # fewer shapes scenes

Speech: the word-by-word sample clips (assets/speech/, made by `python -m core.inputs.speech_samples`) were spoken
one word at a time with known silences, so every word's true start and end are known. For each Whisper model the
words are timed from cross-attention exactly as the Listening page does (core.concepts.listening.listen), and the
share of true word centres that fall inside their predicted span and the mean onset error are printed.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

SPEECH_ROLES = ("listen", "listen_fast")  # Whisper base, tiny.en (core/models/roles.py)


@dataclass(frozen=True)
class SpeechScore:
    model: str
    words: int  # true words over all word-by-word clips
    hits: int  # true word centres inside their predicted span
    mean_onset_error: float  # seconds, |predicted start - true start|
    transcripts_right: int  # clips whose words all match the truth
    clips: int

    @property
    def share(self) -> float:
        return self.hits / self.words if self.words else float("nan")


def speech_scores(roles: tuple[str, ...] = SPEECH_ROLES) -> list[SpeechScore]:
    from core.analysis.speech_alignment import compare_word_timings
    from core.concepts.listening import listen
    from core.inputs.speech_samples import load_samples, read_wav
    from core.models import registry

    clips = [s for s in load_samples() if s.word_by_word]
    scores = []
    for role in roles:
        loaded = registry.load("bundled", role)
        hits = words = right = 0
        onset = 0.0
        for clip in clips:
            heard = listen(loaded.model, loaded.processor, read_wav(clip.path), loaded.spec.label)
            report = compare_word_timings([(w.word, w.start, w.end) for w in clip.words],
                                          [(w.word, w.start, w.end) for w in heard.words])
            hits, words = hits + report.n_hits, words + len(clip.words)
            onset += report.mean_abs_onset_error * report.n_paired
            right += report.words_agree and len(heard.words) == len(clip.words)
        scores.append(SpeechScore(loaded.spec.label, words, hits, onset / words, right, len(clips)))
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
    for score in speech_scores():
        print(f"{score.model:32s} word centres inside their cross-attention span: {score.hits}/{score.words} "
              f"({score.share:.0%}), mean onset error {score.mean_onset_error:.2f} s, transcripts right "
              f"{score.transcripts_right}/{score.clips} (word-by-word clips with known times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
