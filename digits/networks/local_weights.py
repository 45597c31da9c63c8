"""Starting a standard network from a weights file on this machine (its module's WEIGHTS_FILE): nothing
is ever downloaded."""
import torch


def load_matching(module, path):
    """Loads the tensors of a state_dict file (torch.load(weights_only=True)) whose names and shapes
    match into module; returns how many were loaded."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("model", state) if isinstance(state, dict) else state
    own = module.state_dict()
    matched = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    module.load_state_dict(matched, strict=False)
    return len(matched)
