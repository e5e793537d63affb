"""Survivor-safe callbacks: consent, safe windows, retries, the encrypted number and its erasure.

One module per noun; import what you use (the pure ones pull in no database, Redis or Twilio):

- windows   (pure) Window, in_window, next_slot, window_end: the hours a caller chose
- retry     (pure) RetryPolicy, Outcome, next_attempt, give_up_status: when to try again
- numbers   (pure) parse_keypad, check_number, last_two_digits: E.164 or a reason, never digits
- shifts    (pure) next_shift_start, eligible_candidates: when a suitable volunteer is on shift
- config    load_config (config/callbacks.yaml) -> CallbackConfig
- prompts   load_prompts (config/callback_prompts.yaml) -> CallbackPrompts: the volunteer's whisper
- service   request_callback (commit, then enqueue), cancel, sweep, schedule, job_id
- attempts  run_attempt (the job's body), cancel_request (cancel and hang up a ringing leg)
- outcomes  settle: how a request moves on after each leg (the retry policy applied to a row)
- runtime   CallbackRuntime, OutboundCalls, DialError: what the above needs from outside

The Twilio edge is hotline.telephony.callback_calls (webhooks) and .rest_client; the RQ entry
points are workers.callbacks.
"""
