"""How well predicted word timings (Whisper's cross-attention + DTW) match known ones.

Pure functions over word lists `[(word, start, end)]` (seconds). The two lists are paired by position, in order;
words are compared after `normalise_word` (case, punctuation and spaces removed, so Whisper's " Hello," matches
"hello"), and every position where they differ is reported, never dropped. Two measures, over all paired positions:
- centre hit rate: the share of true words whose centre ((start + end) / 2) lies inside the paired predicted span
  (ends included, widened by `tolerance`); the DESIGN notes measured 16/16 on word-by-word speech.
- predicted centre hit rate: the share of predicted words whose centre lies inside the true word (the stricter
  reading: a span that also covers the pause after the word can hold the true centre and still miss this);
- mean absolute onset error: mean |predicted start - true start| (Whisper base starts words ~0.4 s early).
`pair_same_words` pairs two lists by their matching words instead (a misheard word drops out of the measures).
"""
from __future__ import annotations

import difflib
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

Word = tuple[str, float, float]  # (word, start s, end s)


def normalise_word(word: str) -> str:
    """Lower case, letters and digits only (unicode aware): " Hello," -> "hello", "don't" -> "dont"."""
    text = unicodedata.normalize("NFKC", str(word)).casefold()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


@dataclass(frozen=True)
class WordTiming:
    """One paired position. Times in seconds; `onset_error` = predicted start - true start (negative: early)."""

    index: int
    true_word: str
    predicted_word: str
    same_word: bool  # equal after normalise_word
    true_start: float
    true_end: float
    predicted_start: float
    predicted_end: float
    true_centre: float
    centre_inside: bool  # true centre within [predicted_start - tolerance, predicted_end + tolerance]
    onset_error: float
    predicted_centre_inside: bool = False  # predicted centre within [true_start - tolerance, true_end + tolerance]


@dataclass(frozen=True)
class AlignmentReport:
    """Word timings compared position by position.

    words: one `WordTiming` per paired position (min(n_true, n_predicted) of them).
    centre_hit_rate: share of paired words whose true centre is inside the predicted span; nan when none paired.
    mean_abs_onset_error: mean |onset_error| in seconds; nan when none paired.
    mismatches: indices of paired positions whose words differ after normalising.
    unpaired_true / unpaired_predicted: the words past the end of the shorter list (not in the measures).
    """

    words: tuple[WordTiming, ...]
    centre_hit_rate: float
    mean_abs_onset_error: float
    mismatches: tuple[int, ...]
    unpaired_true: tuple[Word, ...]
    unpaired_predicted: tuple[Word, ...]
    tolerance: float = 0.0

    @property
    def n_paired(self) -> int:
        return len(self.words)

    @property
    def n_hits(self) -> int:
        return sum(w.centre_inside for w in self.words)

    @property
    def n_predicted_hits(self) -> int:
        return sum(w.predicted_centre_inside for w in self.words)

    @property
    def words_agree(self) -> bool:
        """Same words, same count: the measures compare like with like."""
        return not self.mismatches and not self.unpaired_true and not self.unpaired_predicted

    def table(self) -> list[dict[str, object]]:
        """The per-word table as rows of plain values (for `st.dataframe`), times rounded to milliseconds."""
        return [
            {
                "#": w.index, "word": w.true_word, "heard": w.predicted_word, "same word": w.same_word,
                "true start": round(w.true_start, 3), "true end": round(w.true_end, 3),
                "predicted start": round(w.predicted_start, 3), "predicted end": round(w.predicted_end, 3),
                "centre inside": w.centre_inside, "onset error (s)": round(w.onset_error, 3),
            }
            for w in self.words
        ]

    def summary(self) -> str:
        """One sentence for the page."""
        if not self.words:
            return "No words to compare."
        text = (f"{self.n_hits}/{self.n_paired} word centres fall inside the predicted span; the predicted starts "
                f"are off by {self.mean_abs_onset_error:.2f} s on average.")
        if self.mismatches:
            text += f" {len(self.mismatches)} word(s) differ from the reference."
        extra = len(self.unpaired_true) + len(self.unpaired_predicted)
        if extra:
            text += f" {extra} word(s) have no partner and are left out."
        return text


def _check(words: Sequence[Sequence], which: str) -> list[Word]:
    checked: list[Word] = []
    for i, item in enumerate(words):
        try:
            word, start, end = item
            start, end = float(start), float(end)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{which} word {i} must be (word, start, end) with times in seconds, got {item!r}") \
                from error
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError(f"{which} word {i} ({word!r}) has a non-finite time: {start}, {end}")
        if end < start:
            raise ValueError(f"{which} word {i} ({word!r}) ends before it starts: {start} > {end}")
        checked.append((str(word), start, end))
    return checked


def compare_word_timings(true_words: Sequence[Word], predicted_words: Sequence[Word],
                         tolerance: float = 0.0) -> AlignmentReport:
    """Pair `true_words` and `predicted_words` by position and measure the timing (see the module docstring).

    `tolerance` (s) widens each predicted span on both sides for the centre test. Raises ValueError for malformed
    words (not a triple, non-finite times, end < start) or a negative tolerance.
    """
    if not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance}")
    truth = _check(true_words, "true")
    predicted = _check(predicted_words, "predicted")
    rows: list[WordTiming] = []
    for i, ((t_word, t_start, t_end), (p_word, p_start, p_end)) in enumerate(zip(truth, predicted)):
        centre = (t_start + t_end) / 2
        rows.append(WordTiming(
            index=i, true_word=t_word, predicted_word=p_word,
            same_word=normalise_word(t_word) == normalise_word(p_word),
            true_start=t_start, true_end=t_end, predicted_start=p_start, predicted_end=p_end, true_centre=centre,
            centre_inside=p_start - tolerance <= centre <= p_end + tolerance, onset_error=p_start - t_start,
            predicted_centre_inside=t_start - tolerance <= (p_start + p_end) / 2 <= t_end + tolerance,
        ))
    n = len(rows)
    hit_rate = sum(r.centre_inside for r in rows) / n if n else math.nan
    onset = sum(abs(r.onset_error) for r in rows) / n if n else math.nan
    return AlignmentReport(
        words=tuple(rows), centre_hit_rate=hit_rate, mean_abs_onset_error=onset,
        mismatches=tuple(r.index for r in rows if not r.same_word),
        unpaired_true=tuple(truth[n:]), unpaired_predicted=tuple(predicted[n:]), tolerance=float(tolerance),
    )


def pair_same_words(true_words: Sequence[Word], predicted_words: Sequence[Word]) -> tuple[list[Word], list[Word]]:
    """The two lists cut down to the words they share, in order (difflib's longest matching blocks over the
    normalised words), ready for `compare_word_timings`: "seven green apples fell" heard as "7 3 apples" pairs only
    "apples", instead of shifting every later pair by one."""
    a = [normalise_word(w[0]) for w in true_words]
    b = [normalise_word(w[0]) for w in predicted_words]
    blocks = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks()
    pairs = [(true_words[m.a + k], predicted_words[m.b + k]) for m in blocks for k in range(m.size)]
    return [t for t, _ in pairs], [p for _, p in pairs]
