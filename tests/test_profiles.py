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


def test_one_function_resolves_every_device_name(monkeypatch):
    monkeypatch.setattr(profiles.torch.cuda, "is_available", lambda: False)
    assert profiles.resolve_device("auto").type == "cpu"
    assert profiles.resolve_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available; use --device cpu"):
        profiles.resolve_device("cuda:1")
    for bad in ("tpu", "gpu", "cuda:x"):
        with pytest.raises(
            ValueError, match="device must be cpu, cuda, cuda:N or auto"
        ):
            profiles.resolve_device(bad)
    monkeypatch.setattr(profiles.torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv(profiles.PROFILE_ENV_VAR, "smoke")
    assert profiles.default_device().type == "cpu", "smoke always runs on the CPU"
    assert profiles.resolve_device("auto").type == "cuda"
