"""Breadth: the Flax-linen names under "jumba_nn" in api_surface.json that jumba_nn offers.

The "jumba_nn.haiku" part is counted in the Haiku tests.
"""

import json
from pathlib import Path

import jumba_nn

SURFACE = json.loads((Path(__file__).resolve().parents[1] / "data" / "api_surface.json")
                     .read_text())
# Not provided, on purpose: FP8 matmul ops (no FP8 types on the CPU backend) and the
# partitioning/sharding metadata API (single host, no device meshes to shard over); plus
# share_scope and compact_name_scope, scope-sharing helpers whose semantics depend on Flax's
# Scope objects.
KNOWN_MISSING = {
    "Fp8DirectDotGeneralOp", "Fp8DotGeneral", "Fp8DotGeneralOp", "Fp8Einsum",
    "NANOOFp8DotGeneralOp",
    "LogicallyPartitioned", "PARTITION_NAME", "Partitioned", "add_metadata_axis",
    "get_logical_axis_rules", "get_partition_spec", "get_sharding", "logical_axis_rules",
    "logical_to_mesh", "logical_to_mesh_axes", "logical_to_mesh_sharding",
    "set_logical_axis_rules", "with_logical_constraint", "with_logical_partitioning",
    "with_partitioning",
    "share_scope", "compact_name_scope",
}


def test_coverage_of_the_flax_linen_surface():
    names = SURFACE["jumba_nn"]
    missing = sorted(n for n in names if not hasattr(jumba_nn, n))
    coverage = 1 - len(missing) / len(names)
    assert coverage >= 0.8, f"{coverage:.0%} of {len(names)} names; missing {missing}"
    assert set(missing) <= KNOWN_MISSING, f"newly missing: {sorted(set(missing) - KNOWN_MISSING)}"
    print(f"\njumba_nn covers {len(names) - len(missing)}/{len(names)} Flax linen names "
          f"({coverage:.0%}); missing: {missing}")


def test_omission_list_is_current():
    """Names in KNOWN_MISSING that exist now should leave the list."""
    present = sorted(n for n in KNOWN_MISSING if hasattr(jumba_nn, n))
    assert not present, f"now provided, remove from KNOWN_MISSING: {present}"


def test_shared_kernels_at_top_level():
    for name in ("make_causal_mask", "make_attention_mask", "combine_masks",
                 "dot_product_attention", "pool", "max_pool", "avg_pool", "min_pool"):
        assert getattr(jumba_nn, name) is getattr(jumba_nn.functional, name)


def test_linen_alias_and_public_api_only():
    import jumba_nn.linen as linen

    assert linen.Dense is jumba_nn.Dense and linen.initializers is jumba_nn.initializers
    root = Path(jumba_nn.__file__).parent
    for path in [*root.glob("*.py"), *(root / "_src").glob("*.py"),
                 *(root / "functional").glob("*.py")]:
        assert "jumba._src" not in path.read_text(), f"{path.name} imports jumba._src"
