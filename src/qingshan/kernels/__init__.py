"""Pure numerical kernels: numpy/numba on ndarrays, units fixed by docstring, no IO, no metadata.

Every kernel is elementwise unless its docstring states a halo or a global dependency (flow
routing), so the engine may call it block by block.
"""
