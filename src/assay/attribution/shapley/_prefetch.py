"""``prefetch(array, i)``: ask the processor to bring ``array[i]`` into cache, a hint with no
effect on values, for numba kernels that know which memory they will read next."""

from __future__ import annotations

import llvmlite.binding
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch"]

# the intrinsic's name carries its pointer type: opaque pointers from LLVM 15 on
_NAME = "llvm.prefetch.p0" if llvmlite.binding.llvm_version_info >= (15,) else "llvm.prefetch.p0i8"


@intrinsic
def prefetch(typingctx, arr, idx):
    """LLVM's ``llvm.prefetch`` (read, high locality, data cache) of ``arr[idx]`` (1-D)."""
    if not isinstance(arr, types.Array) or arr.ndim != 1:
        return None
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _NAME)
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])  # fmt: skip
        return context.get_dummy_value()

    return sig, codegen
