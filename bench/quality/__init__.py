"""The FIM quality harness: ``python -m bench.quality`` (``--help`` for its options).

It sends evaluation tasks through the server's own completion path (context windows, template,
backend, stop guard, post-processing) so that the scores describe what an editor would show.
The stop modes run on the same tasks: ``raw`` (stop tokens and the token limit only),
``indent`` (the peers' rule, :mod:`bench.peers`) and ``scope`` (ours).

Default subset: a seeded sample of 40 single-line and 40 multi-line HumanEval infilling
tasks, 20 random-span (light) ones and 20 SantaCoder FIM tasks per language, 160 in all. It is
sized for about 30 minutes on 2 cores with Qwen2.5-Coder-0.5B Q4_K_M: raw mode mostly runs to
the 128-token limit (~2.5 s at ~60 tokens/s, plus the prompt at ~250 tokens/s), the guarded
modes stop sooner, and a smoke run measured 4-8 s per task for all three modes. ``--full``
runs every task, ``--limit N`` N per set.

Every attempt starts from an empty cache (:mod:`bench.cold`), so that all modes cut the same
generation; time is reported with the task's prompt processing charged to every mode alike.

Document layout: HumanEval infilling tasks are used as published (``prompt`` before the cursor,
``suffix`` after it). A SantaCoder task's ``prompt`` ends at the end of the line above the
missing line and its ``suffix`` starts at the line below, so the line break between them is
put back and the cursor sits at the start of the line below, as in HumanEval single-line.
"""
