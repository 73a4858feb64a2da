import math

import pytest
import torch

from icmeta.network.model import EnsembleICL
from icmeta.rng import stream_keys
from icmeta.settings.config import RunConfig
from icmeta.task.data import TaskSampler, draw_task_constants, make_eval_sets


def sample(cfg: RunConfig, n: int = 4096, step: int = 0, sampler: TaskSampler | None = None):
    sampler = sampler or TaskSampler([cfg])
    return sampler, sampler.sample(stream_keys(sampler.seeds, 1, step), n)


@pytest.mark.parametrize("task_map", ["shift", "random"])
def test_labels_follow_the_task_map(task_map):
    cfg = RunConfig().replace(**{"task.task_map": task_map})
    sampler, b = sample(cfg)
    table = sampler.label_table[0]
    assert torch.equal(b.labels[0], table[b.task[0].unsqueeze(-1), b.classes[0, :, :4]])
    assert torch.equal(b.target[0], table[b.task[0], b.classes[0, :, 4]])
    _, base_table = draw_task_constants(cfg.task, cfg.seed)
    if task_map == "shift":
        assert torch.equal(base_table[2], (base_table[0] + 2) % 32)


def test_paper_p_b_zero_never_puts_query_class_in_context():
    _, b = sample(RunConfig(), n=8192)
    in_context = (b.classes[0, :, :4] == b.classes[0, :, 4:]).any(-1)
    assert not in_context.any()
    assert (b.classes[0, :, :4].sort(-1).values.diff(dim=-1) != 0).all()  # B = 1: distinct classes


def test_code_semantics_put_the_query_in_context_by_chance():
    _, b = sample(RunConfig().replace(**{"task.p_B_semantics": "code"}), n=16384)
    rate = (b.classes[0, :, :4] == b.classes[0, :, 4:]).any(-1).float().mean().item()
    assert rate == pytest.approx(4 / 64, abs=0.01)


@pytest.mark.parametrize("p_B", [0.25, 1.0])
def test_p_b_is_the_probability_of_a_copyable_query(p_B):
    _, b = sample(RunConfig().replace(**{"task.p_B": p_B}), n=16384)
    rate = (b.classes[0, :, :4] == b.classes[0, :, 4:]).any(-1).float().mean().item()
    assert rate == pytest.approx(p_B, abs=0.015)


def test_burstiness_repeats_each_context_class_b_times():
    _, b = sample(RunConfig().replace(**{"task.N": 8, "task.B": 4, "task.P": 65}), n=512)
    counts = torch.stack([(b.classes[0, :, :8] == b.classes[0, :, i : i + 1]).sum(-1) for i in range(8)], -1)
    assert (counts == 4).all()


def test_task_zipf_frequencies():
    beta = 1.0
    _, b = sample(RunConfig().replace(**{"task.beta": beta}), n=30000)
    freq = torch.bincount(b.task[0], minlength=3).float() / b.task.numel()
    expected = torch.tensor([1 / (t + 1) ** beta for t in range(3)])
    assert torch.allclose(freq, expected / expected.sum(), atol=0.01)


def test_class_zipf_frequencies_of_the_query():
    alpha = 1.0
    cfg = RunConfig().replace(**{"task.alpha": alpha, "task.p_B_semantics": "code"})
    _, b = sample(cfg, n=60000)
    freq = torch.bincount(b.classes[0, :, 4], minlength=64).float() / 60000
    w = torch.tensor([1 / (k + 1) ** alpha for k in range(64)])
    assert torch.allclose(freq[:8], (w / w.sum())[:8], atol=0.008)
    # Context classes under Zipf favour frequent classes too (sampled without replacement).
    ctx = torch.bincount(b.classes[0, :, :4].flatten(), minlength=64)
    assert ctx[0] > 5 * ctx[63]


def test_uniform_classes_without_zipf():
    _, b = sample(RunConfig(), n=20000)
    freq = torch.bincount(b.classes[0, :, :4].flatten(), minlength=64).float() / (4 * 20000)
    assert torch.allclose(freq, torch.full((64,), 1 / 64), atol=0.004)


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
def test_item_norms_are_about_one(eps):
    _, b = sample(RunConfig().replace(**{"task.eps": eps}), n=2048)
    norms = b.items.norm(dim=-1)
    assert norms.mean().item() == pytest.approx(1.0, abs=0.05)
    assert norms.std().item() < 0.25


def test_noise_is_standard_normal():
    _, a = sample(RunConfig().replace(**{"task.eps": 1e6}), n=2048)
    x = a.items.flatten() * math.sqrt(63)
    assert x.mean().abs() < 0.02 and x.std().item() == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize(
    ("positions", "labels"),
    [("item_index", "learned"), ("token", "fixed"), ("random_offset", "fixed"), ("token", "learned")],
)
def test_token_shapes_and_positions(positions, labels):
    cfg = RunConfig().replace(**{"task.positions": positions, "task.label_tokens": labels})
    _sampler, b = sample(cfg, n=256)
    tok = EnsembleICL([cfg]).embed(b).detach()
    assert tok.shape == (1, 256, 9, 128)
    pos = tok[..., 63:]
    item_pos = pos[:, :, 0::2].argmax(-1)
    assert (pos[:, :, 0::2].sum(-1) == 1).all()
    if positions == "item_index":
        assert (item_pos == torch.arange(5)).all()
    elif positions == "token":
        assert (item_pos == torch.arange(0, 9, 2)).all()
    else:
        offsets = item_pos[..., 0]
        assert (item_pos - offsets.unsqueeze(-1) == torch.arange(0, 9, 2)).all()
        assert offsets.min() == 0 and offsets.max() == 65 - 9
    if labels == "fixed":
        assert (
            pos[:, :, 1::2].argmax(-1) == item_pos[..., :4] + (0 if positions == "item_index" else 1)
        ).all()
    else:
        assert not (pos[:, :, 1::2] == 1).all(-1).any()
    assert torch.allclose(tok[..., 0::2, :63], b.items)


def test_sampling_is_a_function_of_seed_and_step():
    cfg = RunConfig()
    s1, a = sample(cfg, n=64, step=5)
    _, b = sample(cfg, n=64, step=5, sampler=s1)
    _, c = sample(cfg, n=64, step=6, sampler=s1)
    assert torch.equal(a.items, b.items) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.items, c.items)


def test_ensemble_member_sees_the_solo_runs_data_bit_for_bit():
    solo = RunConfig().replace(seed=7, **{"task.T": 2, "task.eps": 0.25})
    other = RunConfig().replace(seed=3, **{"task.B": 2, "task.p_B": 0.5, "task.beta": 1.0})
    _, alone = sample(solo, n=128, step=11)
    ens = TaskSampler([other, solo])
    together = ens.sample(stream_keys(ens.seeds, 1, 11), 128)
    for name in ("items", "labels", "target", "task", "classes"):
        assert torch.equal(getattr(together, name)[1], getattr(alone, name)[0]), name
    assert not torch.equal(together.items[0], together.items[1])


def test_eval_sets():
    sampler = TaskSampler([RunConfig()])
    sets = make_eval_sets(sampler, 512)
    ident, rla = sets["id"], sets["rla"]
    assert torch.equal(rla.labels.sort(-1).values, ident.labels.sort(-1).values)
    assert (rla.labels != ident.labels).any(-1).float().mean() > 0.8
    assert torch.equal(rla.target, ident.target)
    copy = sets["copy"]
    assert (copy.classes[..., :4] == copy.classes[..., 4:]).any(-1).all()
    assert torch.equal(sets["tasks"].task[0], torch.arange(512) % 3)
    assert not torch.equal(sets["rand_label"].labels, ident.labels)
    again = make_eval_sets(sampler, 512)
    assert torch.equal(again["id"].items, ident.items)


@pytest.mark.parametrize("p_B", [0.0, 1.0])
def test_the_fewest_classes_allowed_still_sample_the_task(p_B):
    """K = N/B + 1 (here 3 for N = 4, B = 2): the context's two classes and one outside them."""
    cfg = RunConfig().replace(**{"task.K": 3, "task.B": 2, "task.p_B": p_B})
    _, b = sample(cfg, n=2048)
    ctx, query = b.classes[0, :, :4], b.classes[0, :, 4:]
    assert (ctx.sort(-1).values[:, ::2] == ctx.sort(-1).values[:, 1::2]).all()  # each class twice
    assert ((ctx == query).any(-1) == (p_B == 1.0)).all()
    assert set(b.classes.unique().tolist()) == {0, 1, 2}


def test_ensemble_members_may_differ_in_how_many_classes_they_draw():
    a = RunConfig().replace(**{"task.K": 3, "task.B": 2})
    b = RunConfig().replace(seed=1, **{"task.K": 3, "task.B": 4, "task.p_B": 0.5})
    _, alone = sample(b, n=256)
    ens = TaskSampler([a, b])
    together = ens.sample(stream_keys(ens.seeds, 1, 0), 256)
    assert torch.equal(together.classes[1], alone.classes[0])


def test_runs_with_enough_classes_rank_n_plus_one_of_them():
    """Top-k orders tied Gumbel scores differently for different k (a few sequences in a million), so
    the sampler keeps k = N + 1 whenever K allows, and such runs keep the data they always had."""
    assert TaskSampler([RunConfig().replace(**{"task.B": 2})]).n_top == 5
    assert TaskSampler([RunConfig().replace(**{"task.K": 3, "task.B": 2})]).n_top == 3


def _successive_draws(p: list[float], r: int) -> dict[tuple[int, ...], float]:
    """Exact probabilities of every ordered sequence of r distinct classes drawn one after another
    without replacement, each in proportion to p over the classes not yet drawn."""
    out = {(): 1.0}
    for _ in range(r):
        nxt = {}
        for seq, prob in out.items():
            rest = 1 - sum(p[c] for c in seq)
            for c in range(len(p)):
                if c not in seq:
                    nxt[(*seq, c)] = prob * p[c] / rest
        out = nxt
    return out


@pytest.mark.parametrize("p_B", [0.0, 0.5])
def test_paper_semantics_zipf_marginals_are_exact(p_B):
    """Query class ~ Zipf(alpha) whatever p_B; the context's classes are the next draws from the rest
    (a bursty context holds the query's class in place of the last one)."""
    K, alpha, n = 8, 1.0, 200_000
    cfg = RunConfig().replace(**{"task.K": K, "task.L": 8, "task.alpha": alpha, "task.p_B": p_B})
    _, b = sample(cfg, n=n)
    query, ctx = b.classes[0, :, 4], b.classes[0, :, :4]
    w = [1 / (k + 1) ** alpha for k in range(K)]
    p = [x / sum(w) for x in w]
    exact_query = torch.tensor(p, dtype=torch.float64)
    exact_ctx = torch.zeros(K, dtype=torch.float64)  # one context slot's class
    for seq, prob in _successive_draws(p, 5).items():
        for c in seq[1:]:  # not bursty: draws 2..5
            exact_ctx[c] += (1 - p_B) * prob / 4
        for c in seq[:4]:  # bursty: the query's class and draws 2..4
            exact_ctx[c] += p_B * prob / 4
    got_query = torch.bincount(query, minlength=K).double() / n
    got_ctx = torch.bincount(ctx.flatten(), minlength=K).double() / (4 * n)
    sigma = (exact_query * (1 - exact_query) / n).sqrt()
    assert ((got_query - exact_query).abs() < 5 * sigma).all(), (got_query, exact_query)
    sigma = (exact_ctx * (1 - exact_ctx) / n).sqrt()  # slots of a sequence are dependent: loose-ish
    assert ((got_ctx - exact_ctx).abs() < 5 * sigma * 2).all(), (got_ctx, exact_ctx)
    in_context = (ctx == query.unsqueeze(-1)).any(-1).double().mean().item()
    assert in_context == pytest.approx(p_B, abs=0.005)


def test_paper_semantics_query_is_zipf_at_the_default_size():
    """The case that was wrong: alpha = 1, K = 64, p_B = 0 gave class 0 to 8.8 % of queries, not 21.1 %."""
    cfg = RunConfig().replace(**{"task.alpha": 1.0})
    _, b = sample(cfg, n=100_000)
    w = torch.tensor([1 / (k + 1) for k in range(64)])
    got = torch.bincount(b.classes[0, :, 4], minlength=64).float() / 100_000
    assert got[0].item() == pytest.approx((w / w.sum())[0].item(), abs=0.006)  # 0.211


def test_the_official_convention_set_ignores_p_b_and_the_task_zipf():
    cfg = RunConfig().replace(**{"task.beta": 1.0, "task.p_B": 0.5, "task.T": 3})
    sets = make_eval_sets(TaskSampler([cfg]), 30_000)
    official, ident = sets["official"], sets["id"]
    assert torch.bincount(ident.task[0]).tolist()[0] > 15_000  # Zipf(1) over 3 tasks: 0.55
    assert torch.allclose(
        torch.bincount(official.task[0]).double() / 30_000, torch.full((3,), 1 / 3).double(), atol=0.01
    )
    in_context = (official.classes[0, :, :4] == official.classes[0, :, 4:]).any(-1).double().mean()
    assert in_context.item() == pytest.approx(4 / 64, abs=0.005)  # uniform query, 4 distinct classes


def _pair_reader(sampler: TaskSampler, batch, pairs: list[int]) -> torch.Tensor:
    """Accuracy of an oracle that infers the task from the named pairs (0-based) and nothing else:
    the first task consistent with all of them, or task 0 when none is."""
    table = sampler.label_table[0]  # (T, K)
    classes, labels = batch.classes[0], batch.labels[0]
    fits = torch.ones(labels.shape[0], table.shape[0], dtype=torch.bool)
    for k in pairs:
        fits &= labels[:, k : k + 1] == table[:, classes[:, k]].T
    task = torch.where(fits.any(-1), fits.float().argmax(-1), 0)
    return (table[task, classes[:, -1]] == batch.target[0]).float().mean()


def test_pair_breaks_keep_the_labels_and_break_exactly_the_named_pairs():
    cfg = RunConfig.from_dict({"task": {"T": 3, "K": 32, "L": 16, "eps": 0.5}, "seed": 3})
    sampler = TaskSampler([cfg])
    sets = make_eval_sets(sampler, 2048)
    ident, N = sets["id"], cfg.task.N
    table = sampler.label_table[0]
    cases = {f"broken_pair{k}": [k - 1] for k in range(1, N + 1)}
    cases.update({"all_pairs_broken": list(range(N)), "only_pair2": [0, 2, 3]})
    for name, broken in cases.items():
        b = sets[name]
        assert torch.equal(b.labels, ident.labels) and torch.equal(b.target, ident.target)
        changed = (b.classes != ident.classes)[0]  # (n, N + 1)
        assert changed[:, broken].all() and changed.sum() == len(broken) * changed.shape[0]
        assert torch.equal(b.items[:, :, ~changed.any(0)], ident.items[:, :, ~changed.any(0)])
        moved = b.classes[0][:, broken]
        assert (table[b.task[0]].gather(1, moved) != b.labels[0][:, broken]).all()
        assert all(len(set(row.tolist())) == N + 1 for row in b.classes[0])  # still distinct
        # The item is its new class's mean plus the same noise draw.
        mu = sampler.mu[0]
        noise = ident.items[0, :, 0] * math.sqrt(1.25) - mu[ident.classes[0, :, 0]]
        if 0 in broken:
            expected = (mu[b.classes[0, :, 0]] + noise) / math.sqrt(1.25)
            assert torch.allclose(b.items[0, :, 0], expected, atol=1e-5)


def test_a_reader_of_one_pair_fails_when_and_only_when_that_pair_is_broken():
    """The sets' promise, checked on an oracle whose circuit is known: it reads pair 1 alone."""
    cfg = RunConfig.from_dict({"task": {"T": 3}, "seed": 0})
    sampler = TaskSampler([cfg])
    sets = make_eval_sets(sampler, 4096)
    intact = _pair_reader(sampler, sets["id"], [0])
    assert intact > 0.95
    assert _pair_reader(sampler, sets["broken_pair1"], [0]) < 0.5
    assert _pair_reader(sampler, sets["only_pair1"], [0]) == intact
    assert _pair_reader(sampler, sets["all_pairs_broken"], [0]) < 0.5
    for k in range(2, cfg.task.N + 1):
        assert _pair_reader(sampler, sets[f"broken_pair{k}"], [0]) == intact
        assert _pair_reader(sampler, sets[f"only_pair{k}"], [0]) < 0.5
    # A reader of every pair fails on the set that breaks them all, and on no set keeps more.
    every = list(range(cfg.task.N))
    assert _pair_reader(sampler, sets["all_pairs_broken"], every) < 0.5
