import pytest

from resnet_course import profiles


def test_pick_follows_the_environment_variable(monkeypatch):
    for name in profiles.PROFILES:
        monkeypatch.setenv(profiles.PROFILE_ENV_VAR, name)
        assert (
            profiles.pick(smoke=1, cpu=2, gpu=3)
            == {"smoke": 1, "cpu": 2, "gpu": 3}[name]
        )


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(profiles.PROFILE_ENV_VAR, "huge")
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        profiles.current_profile()


def test_default_is_cpu_without_cuda(monkeypatch):
    monkeypatch.delenv(profiles.PROFILE_ENV_VAR, raising=False)
    monkeypatch.setattr(profiles.torch.cuda, "is_available", lambda: False)
    assert profiles.current_profile() == "cpu"
    assert str(profiles.default_device()) == "cpu"


def test_run_description_names_profile_device_and_torch(monkeypatch):
    monkeypatch.setenv(profiles.PROFILE_ENV_VAR, "smoke")
    line = profiles.describe_run()
    assert (
        "profile: smoke" in line
        and "device: cpu" in line
        and profiles.torch.__version__ in line
    )
