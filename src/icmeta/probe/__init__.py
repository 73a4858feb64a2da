"""The paper's circuits in pretrained language models: attention metrics on few-shot SST-2 prompts
(Minegishi et al. 2025, Sec. 6 and Fig. 10; the protocol is in docs/method.md, "SST-2 probe protocol")."""


class ProbeError(RuntimeError):
    """The probe cannot run as configured; the message names the config key that fixes it."""
