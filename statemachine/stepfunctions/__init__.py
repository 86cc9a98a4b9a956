"""The AWS engine: the same steps as the local runner, as Step Functions states.

``statemachine/verify.asl.json`` is the machine; each Lambda step calls one function here:

- **Start** (controller): the job's trigger handler runs (``replay``) until it asks for a
  verification; ``prepare`` then analyzes, builds nothing, reproduces (the baseline awaited), and
  ranks the offline engine's candidates; the first batch of ranks goes to the Map.
- **Validate** (one Map iteration per rank, ``MaxConcurrency`` = the batch size): one candidate
  through ``validate()``, its runs in the sandbox function; the verdict is written to S3.
- **Tally** (controller): the batch's outcomes in, the next batch out (``search.next_batch``: the
  window after the first verified rank, the budgets), or none.
- **Models** (controller), once the batches are over with nothing verified, when the request's
  brain is not "offline" and a generator key is set: ``model_search()`` as ``pve serve`` runs it
  after the offline engine (the calls go out from the controller, which holds the keys; the
  model's reproduction and candidates run in the sandbox function); its ``Found`` to S3.
- **Notify** (notifier): the verdicts decided and proven, the session stored; the handler is
  replayed, now past that verification: it publishes (reply, check run, PR), or asks for the
  next verification (a pull request's claim: base, then head), which goes round again.

What travels in the state is ``Flow`` (ranks and outcomes: bytes); everything else (context,
snapshot, verdicts, proofs) is in S3 under the session, by key.
"""
