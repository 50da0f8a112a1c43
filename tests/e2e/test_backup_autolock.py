"""Issue 19, "the same with autolock on": the drill of tests/e2e/test_backup.py on a swarm whose
managers are autolocked. The backup's node key is locked with the unlock key of the day; Docker
cannot unlock a manager of several restored alone (moby/moby#36852), so `make restore` unlocks the
key at rest with the recorded unlock key (tools/swarm_unlock.py) and the restored swarm locks it
again; swarm-restore.sh rotates the unlock key, and `pulumi up` records the new one.

The steps are test_backup.py's own, in its order, on their own test hosts, but for the refusal
while a manager is down, which autolock does not change."""

from __future__ import annotations

import pytest

from tests.e2e import test_backup as drill
from tests.e2e.deployment import Deployment


@pytest.fixture(scope="module", autouse=True)
def autolocked(deployment: Deployment) -> None:
    """The stack's `swarm.autolock`, set before the first `up`."""
    deployment.swarm_extra = {"autolock": True}


def test_up_autolocked_with_three_managers_two_workers_the_demo_and_a_service_with_a_secret_and_a_config(deployment: Deployment) -> None:
    drill.test_up_with_three_managers_two_workers_the_demo_and_a_service_with_a_secret_and_a_config(deployment)
    assert deployment.first.info("{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}") == "true"


def test_make_backup_of_the_autolocked_swarm(deployment: Deployment) -> None:
    drill.test_make_backup_archives_on_a_manager_that_is_not_the_leader_encrypted(deployment)


def test_the_scheduled_job_backs_up_the_autolocked_swarm_on_one_manager_and_backup_pull_copies_it(deployment: Deployment) -> None:
    drill.test_the_scheduled_job_fired_on_every_manager_at_once_backs_up_on_one_in_turn_and_backup_pull_copies_it(deployment)


def test_disaster_every_autolocked_managers_daemon_stopped_and_its_swarm_folder_deleted(deployment: Deployment) -> None:
    drill.test_disaster_every_managers_daemon_stopped_and_its_swarm_folder_deleted(deployment)


def test_make_restore_of_the_autolocked_backup_then_pulumi_up_brings_the_swarm_back_serving(deployment: Deployment) -> None:
    drill.test_make_restore_on_the_manager_chosen_then_pulumi_up_brings_the_swarm_back_serving(deployment)


def test_verify_the_restore_check_and_a_second_up_after_the_autolocked_restore(deployment: Deployment) -> None:
    drill.test_verify_and_the_restore_check_are_green_and_a_second_up_changes_nothing(deployment)


def test_the_restored_swarm_is_autolocked_under_the_rotated_unlock_key_that_the_stack_records(deployment: Deployment) -> None:
    m1 = deployment.first
    assert m1.info("{{.Swarm.Cluster.Spec.EncryptionConfig.AutoLockManagers}}") == "true"
    assert deployment.stack is not None
    outputs = deployment.stack.outputs()
    assert "unlockKey" in outputs and outputs["unlockKey"].secret, "pulumi up records the unlock key as a secret"
    assert outputs["unlockKey"].value == m1.docker("swarm", "unlock-key", "-q"), "the stack's unlockKey is the rotated key"
