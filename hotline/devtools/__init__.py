"""Developer tools that play Twilio's part locally: never used by the web or the worker in
production, only by `./dev run`, `hotline simulate` and the tests.

- twilio_api       LocalTwilio: Twilio's REST API (Calls) on a local port, with phones that ring
- callback_phones  CallbackPhones: the volunteer's and the caller's phones for a callback
"""
