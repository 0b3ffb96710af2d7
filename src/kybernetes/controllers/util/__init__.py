"""Helpers shared by more than one controller, so the controllers stay independent of each other (the
import contract in pyproject.toml): ``history`` (ControllerRevisions, expectations, owner references),
``deployment`` (ReplicaSet/Deployment revision and condition helpers, upstream's ``deployment/util``) and
``cron`` (the CronJob schedule parser, a pure helper kept out of the controller module)."""
