"""A batch's prompts are prefilled as prefix trees (decoding/scoring.py ``prefix_tree``): every start two prompts
share is computed once (a passage for all its questions, a question for both orders of its pair), each token
attends to its ancestors alone, and the scores are the scores of each prompt alone."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from decoding.scoring import ChoiceScorer, group_by_prefix, prefix_tree
from tests.engine.test_choice_scoring import RUBRIC, STEPS, assert_scored_alike, scorer_model  # noqa: F401

sequences = st.lists(st.lists(st.integers(0, 2), min_size=1, max_size=6), min_size=1, max_size=7)


@settings(max_examples=200, deadline=None)
@given(sequences)
def test_each_distinct_start_is_one_node_and_each_path_spells_its_sequence(seqs):
    tree = prefix_tree(seqs)
    distinct_starts = {tuple(s[: k + 1]) for s in seqs for k in range(len(s))}
    assert len(tree.tokens) == len(distinct_starts)
    for seq, path in zip(seqs, tree.paths, strict=True):
        assert [tree.tokens[r] for r in path] == seq
        assert [tree.depth[r] for r in path] == list(range(len(seq)))
        assert [tree.parent[r] for r in path] == [-1, *path[:-1]]


@settings(max_examples=200, deadline=None)
@given(sequences, st.integers(0, 3))
def test_a_token_sees_itself_and_its_ancestors_and_padding_sees_only_itself(seqs, padding):
    tree = prefix_tree(seqs)
    width = len(tree.tokens) + padding
    sees = tree.sees(width)
    for path in tree.paths:
        for d, r in enumerate(path):
            assert set(sees[r].nonzero()[0]) == set(path[: d + 1])
    for r in range(len(tree.tokens), width):
        assert set(sees[r].nonzero()[0]) == {r}


PASSAGE = "Passage: The Eiffel Tower was finished in 1889 for the World's Fair in Paris, France. "
ITEM_PROMPTS = [  # two questions on one passage, each pair judged in both orders, one pair twice
    RUBRIC + PASSAGE + "Question: When was it finished? Answer 1: 1889 Answer 2: 1900",
    RUBRIC + PASSAGE + "Question: When was it finished? Answer 1: 1900 Answer 2: 1889",
    RUBRIC + PASSAGE + "Question: Where is it? Answer 1: Paris Answer 2: Lyon",
    RUBRIC + PASSAGE + "Question: Where is it? Answer 1: Lyon Answer 2: Paris",
    RUBRIC + PASSAGE + "Question: Where is it? Answer 1: Lyon Answer 2: Paris",
    RUBRIC + "Passage: Lake Biwa is in Shiga. Question: Where is it? Answer 1: Shiga Answer 2: Kyoto",
]


def test_one_passage_s_prompts_are_one_tree_whose_tokens_alone_run_and_score_as_each_prompt_alone(scorer_model):  # noqa: F811
    model, tok = scorer_model
    scorer = ChoiceScorer(model, tok, batch_size=8)
    assert scorer._packs_prompts
    encoded = [scorer.encode_prompt(p + STEPS[0][0]) for p in ITEM_PROMPTS]
    prefix = scorer.decoder.shared_prefix_length(encoded)
    groups = sorted(sorted(g.members) for g in group_by_prefix(encoded, prefix, tree=True))
    assert groups == [[0, 1, 2, 3, 4], [5]]
    widths: list[tuple[int, ...]] = []
    hook = model.get_input_embeddings().register_forward_hook(lambda _m, args, _out: widths.append(args[0].shape))
    try:
        treed = scorer.choose_text(ITEM_PROMPTS, STEPS)
    finally:
        hook.remove()
    tree_tokens = len({tuple(e[prefix : k + 1]) for e in encoded[:5] for k in range(prefix, len(e))})
    own = len(encoded[5]) - prefix
    assert widths[1] == (2, max(tree_tokens, own))  # after the rubric: the prefill, one row per group
    shared = len(os.path.commonprefix(encoded[:5])) - prefix  # a two-level layout: the passage, then each prompt
    assert tree_tokens < shared + sum(len(e) - prefix - shared for e in encoded[:5])
    alone = ChoiceScorer(model, tok, batch_size=1, share_prefix=False).choose_text(ITEM_PROMPTS, STEPS)
    assert_scored_alike(alone, treed)
    assert [r.prompt_tokens for r in treed] == [r.prompt_tokens for r in alone]
    assert treed[3].logprobs == treed[4].logprobs  # identical prompts share every token, their last included


def test_a_tree_joins_a_prompt_that_a_shared_prefix_layout_would_leave_alone():
    """Two-level layout: joining shortens what the others share, so a prompt sharing only a short start stays
    alone. A tree loses nothing by it; the group still records the start every member shares."""
    a, b = [1] * 40 + [2] * 5, [1] * 40 + [3] * 5  # one passage, two questions
    c = [1] * 17 + [4] * 30  # shares a short start with them
    assert sorted(sorted(g.members) for g in group_by_prefix([a, b, c], 0)) == [[0, 1], [2]]
    groups = group_by_prefix([a, b, c], 0, tree=True)
    assert [sorted(g.members) for g in groups] == [[0, 1, 2]] and groups[0].shared == 17
    assert len(prefix_tree([a, b, c]).tokens) == 40 + 5 + 5 + 30
