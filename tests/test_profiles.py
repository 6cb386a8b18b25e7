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
    with pytest.raises(
        ValueError, match="CUDA is not available; use --device cpu"
    ):
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


def fake_gpu(monkeypatch, capability, name="NVIDIA Fake"):
    monkeypatch.delenv(profiles.PROFILE_ENV_VAR, raising=False)
    monkeypatch.setattr(profiles.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        profiles.torch.cuda,
        "get_device_capability",
        lambda device=None: capability,
    )
    monkeypatch.setattr(
        profiles.torch.cuda, "get_device_name", lambda device=None: name
    )
    monkeypatch.setattr(profiles.torch.version, "hip", None, raising=False)


@pytest.mark.parametrize(
    "capability, gpu", [((7, 5), "T4"), ((8, 0), "A100"), ((8, 9), "L4")]
)
def test_a_gpu_older_than_the_gpu_profiles_class_runs_the_cpu_sizes(
    monkeypatch, capability, gpu
):
    # Colab's T4 (and the L4, A100) would take far longer than ten minutes a chapter
    # at the H100/H200-sized gpu profile: by default they run the cpu sizes, on the GPU.
    fake_gpu(monkeypatch, capability, f"NVIDIA {gpu}")
    assert profiles.current_profile() == "cpu"
    assert profiles.pick(smoke=1, cpu=2, gpu=3) == 2
    assert profiles.default_device().type == "cuda"
    line = profiles.describe_run()
    assert line.startswith("profile: cpu | device: cuda = NVIDIA " + gpu)
    assert "%env RESNET_COURSE_PROFILE=gpu" in line, line


@pytest.mark.parametrize("capability", [(9, 0), (10, 0)])
def test_an_h100_class_gpu_runs_the_gpu_profile(monkeypatch, capability):
    fake_gpu(monkeypatch, capability, "NVIDIA H200")
    assert profiles.current_profile() == "gpu"
    line = profiles.describe_run()
    assert line.startswith("profile: gpu | device: cuda") and "\n" not in line


def test_an_amd_gpu_runs_the_cpu_sizes_whatever_its_capability_number(
    monkeypatch,
):
    # ROCm reports the gfx architecture as the capability: an MI250 (gfx90a) gives 9.0.
    fake_gpu(monkeypatch, (9, 0), "AMD Instinct MI250X")
    monkeypatch.setattr(profiles.torch.version, "hip", "6.2.41133", raising=False)
    assert profiles.current_profile() == "cpu"


def test_the_environment_variable_overrides_the_gpu_rule(monkeypatch):
    fake_gpu(monkeypatch, (7, 5), "Tesla T4")
    monkeypatch.setenv(profiles.PROFILE_ENV_VAR, "gpu")
    assert profiles.current_profile() == "gpu"
    assert (
        "\n" not in profiles.describe_run()
    ), "no advice once the reader has chosen"


def test_a_cpu_is_named_by_its_model_so_timings_of_two_machines_differ(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n"
    )
    assert profiles.cpu_model(str(info)).startswith("AMD EPYC 7B13, ")
    assert (
        profiles.cpu_model(str(tmp_path / "none")) == profiles.platform.machine()
    )
    assert profiles.device_name("cpu").startswith("CPU (")
