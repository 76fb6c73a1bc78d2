import pandas as pd
import pytest
import torch

from omicsgen.models import VAE
from omicsgen.train import device_settings, load_model


def test_training_writes_checkpoint_and_history(trained, prepared):
    model, checkpoint, history = trained
    assert isinstance(model, VAE) and not model.training
    table = pd.read_csv(history)
    assert {"epoch", "train_loss", "val_loss", "train_kl", "val_reconstruction", "kl_weight"} <= set(table.columns)
    assert table["epoch"].tolist() == list(range(len(table)))
    assert table["val_loss"].notna().all() and table["train_loss"].notna().all()
    assert table["val_loss"].iloc[-1] < table["val_loss"].iloc[0]
    assert table["kl_weight"].iloc[0] == pytest.approx(0.5) and table["kl_weight"].iloc[-1] == 1.0
    # no Lightning working folders left behind
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["history.csv", "model.ckpt"]
    restored = load_model(checkpoint, "vae")
    assert restored.hparams.n_input == prepared.n_vars
    x = torch.from_numpy(prepared.X[:5].toarray())
    torch.testing.assert_close(restored.encode(x)[0], model.encode(x)[0])


def test_training_is_reproducible(prepared, trained, tmp_path):
    from omicsgen.train import train_model
    from tests.conftest import FAST_VAE

    again = train_model(prepared, "vae", tmp_path / "m.ckpt", tmp_path / "h.csv", params=FAST_VAE, seed=0, threads=2)
    x = torch.from_numpy(prepared.X[:20].toarray())
    torch.testing.assert_close(again.encode(x)[0], trained[0].encode(x)[0])
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "h.csv"), pd.read_csv(trained[2]))


def test_device_settings():
    assert device_settings(0) == {"accelerator": "cpu", "devices": 1, "strategy": "auto"}
    if torch.cuda.device_count() == 0:
        with pytest.raises(RuntimeError, match="granted gpu=1 but torch sees 0 CUDA devices"):
            device_settings(1)
    else:
        assert device_settings(1)["accelerator"] == "cuda"
