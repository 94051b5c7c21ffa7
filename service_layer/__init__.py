"""The application service layer: one function per use case, shared by every API surface and the operator CLI.

    speech.request_speech / speech.get_speech          text-to-speech jobs
    voices.clone_voice / list_voices / get_voice / update_voice / delete_voice
    jobs.get_job                                        any job (speech or clone) by id
    keys.issue_key / create_key / list_keys / revoke_key / account_for_key
    credits.get_credits / usage_history / grant
    accounts.open_account / create_account            operator use cases

Callers pass a :class:`service_layer.ports.Ports` (built once per process by ``adapters.wiring``). Failures the
caller must answer are :mod:`service_layer.errors` exceptions. Nothing here imports Flask, pymongo, boto3 or
confluent-kafka: the outside world is reached only through the ports.
"""
