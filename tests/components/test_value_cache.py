"""The value-keyed cache behind the page's figures and pictures: equal argument values hit, anything that differs
misses, and a result is built once, also for sessions that ask together."""
import numpy as np

from components.figures.value_cache import arguments_key, value_cached


def test_keys_compare_values_not_objects():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert arguments_key((a, "t"), {"k": 1}) == arguments_key((a.copy(), "t"), {"k": 1})
    assert arguments_key((a[:, ::2],), {}) == arguments_key((np.ascontiguousarray(a[:, ::2]),), {})  # a view too
    different = [
        ((a.astype(np.float64), "t"), {"k": 1}),  # dtype
        ((a.reshape(4, 3), "t"), {"k": 1}),  # shape, same bytes
        ((a + 1e-6, "t"), {"k": 1}),  # one value
        ((a, "u"), {"k": 1}),  # another argument
        ((a, "t"), {"k": 2}),  # a keyword's value
        ((a, "t"), {"j": 1}),  # a keyword's name
        (("t", a), {"k": 1}),  # the order
        ((a, "t", None), {"k": 1}),  # one more argument
    ]
    keys = {arguments_key(args, kwargs) for args, kwargs in different}
    assert len(keys) == len(different) and arguments_key((a, "t"), {"k": 1}) not in keys


def test_nested_arrays_and_labels_count_too():
    mass = {"text->image": np.ones((2, 3)), "image->text": np.zeros((2, 3))}
    changed = {"text->image": np.ones((2, 3)), "image->text": np.full((2, 3), 0.5)}
    assert arguments_key((mass,), {}) != arguments_key((changed,), {})
    assert arguments_key((["a", "b"],), {}) != arguments_key((["a", "c"],), {})


def test_a_result_is_built_once_per_value_and_the_oldest_goes_first():
    calls = []

    @value_cached(maxsize=2)
    def square(values: np.ndarray) -> np.ndarray:
        calls.append(values.tolist())
        return values ** 2

    one, two, three = np.array([1.0]), np.array([2.0]), np.array([3.0])
    first = square(one)
    assert square(one.copy()) is first and calls == [[1.0]]
    square(two)
    square(three)  # evicts [1.0], the least recently used
    square(one)
    assert calls == [[1.0], [2.0], [3.0], [1.0]]


def test_a_frozen_array_is_hashed_once_and_a_writeable_one_every_time(monkeypatch):
    from components.figures import value_cache

    hashed = []
    real = value_cache._array_bytes
    monkeypatch.setattr(value_cache, "_array_bytes", lambda value: hashed.append(value.shape) or real(value))
    frozen = np.arange(6.0).reshape(2, 3).copy()  # owns its data
    frozen.setflags(write=False)
    key = arguments_key((frozen,), {})
    assert arguments_key((frozen,), {}) == key and len(hashed) == 1  # the second time, the kept digest
    assert arguments_key((frozen.copy(),), {}) == key  # equal values, equal keys, whichever way they were hashed

    writeable = np.arange(6.0).reshape(2, 3)
    before = arguments_key((writeable,), {})
    writeable[0, 0] = 7.0  # changed in place: the next key must see it
    assert arguments_key((writeable,), {}) != before

    view = writeable[:, :2]
    view.setflags(write=False)  # read-only, but its base is not: not frozen
    first = arguments_key((view,), {})
    writeable[0, 1] = -1.0
    assert arguments_key((view,), {}) != first


def test_a_new_view_of_a_frozen_array_is_known_by_what_it_shows(monkeypatch):
    """A result's property that slices a stored array returns a new view object each call: hashed once all the same,
    while another slice of the same array is hashed for itself."""
    from components.figures import value_cache

    hashed = []
    real = value_cache._array_bytes
    monkeypatch.setattr(value_cache, "_array_bytes", lambda value: hashed.append(value.shape) or real(value))
    stored = np.arange(24.0).reshape(2, 3, 4).copy()
    stored.setflags(write=False)
    first = arguments_key((stored[..., 1:],), {})
    assert arguments_key((stored[..., 1:],), {}) == first and hashed == [(2, 3, 3)]
    assert arguments_key((stored[..., :3],), {}) != first and len(hashed) == 2  # same shape, other numbers


def _in_two_sessions(monkeypatch, build_first):
    """Session 1 calls the cached function and stays inside its build until session 2 waits for that same value;
    returns both sessions' results and who built. No sleeps: the flight event the cache waits on reports the wait."""
    import threading

    from components.figures import value_cache

    second_waits = threading.Event()

    class Watched(threading.Event):
        def wait(self, timeout=None):
            second_waits.set()
            return super().wait(timeout)

    monkeypatch.setattr(value_cache, "_Flight", Watched)
    builds = []
    inside = threading.Event()

    @value_cached(maxsize=4)
    def square(values: np.ndarray) -> np.ndarray:
        builds.append(threading.current_thread().name)
        if len(builds) == 1:
            inside.set()
            assert second_waits.wait(60), "session 2 never waited"
            return build_first(values)
        return values ** 2

    results = {}

    def session(name: str) -> None:
        try:
            results[name] = square(np.array([3.0]))
        except RuntimeError as e:
            results[name] = e

    first = threading.Thread(target=session, args=("one",), name="one")
    first.start()
    assert inside.wait(60)
    second = threading.Thread(target=session, args=("two",), name="two")
    second.start()
    first.join(60)
    second.join(60)
    return results, builds


def test_sessions_asking_together_build_a_value_once(monkeypatch):
    results, builds = _in_two_sessions(monkeypatch, lambda values: values ** 2)
    assert builds == ["one"]
    assert results["two"] is results["one"] and results["one"].tolist() == [9.0]


def test_a_failed_build_leaves_the_value_to_the_next_session(monkeypatch):
    def fail(values):
        raise RuntimeError("out of memory")

    results, builds = _in_two_sessions(monkeypatch, fail)
    assert isinstance(results["one"], RuntimeError)
    assert builds == ["one", "two"] and results["two"].tolist() == [9.0]
