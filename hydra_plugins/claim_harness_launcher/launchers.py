"""Hydra launchers for `hydra/launcher=slurm` and `hydra/launcher=local` (see harness/launcher.py).

Hydra instantiates launchers only from the `hydra_plugins` package; the work is done in
harness.launcher. Without hydra-submitit-launcher installed these classes do not exist,
and Hydra's own launchers are unaffected.
"""

from collections.abc import Sequence

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
        LocalLauncher,
        SlurmLauncher,
    )
except ImportError:  # the `slurm` extra is not installed
    LocalLauncher = SlurmLauncher = None

if SlurmLauncher is not None:
    from hydra.core.utils import JobReturn

    from harness import launcher

    class ResumingSlurmLauncher(SlurmLauncher):
        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            return launcher.launch(self, job_overrides, initial_job_idx)

    class ResumingLocalLauncher(LocalLauncher):
        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
            return launcher.launch(self, job_overrides, initial_job_idx)
