/// Exporters (CSV, NPY/NPZ, HDF5, VTK) and renderers (SVG, HTML) for datasets.
/// Filled by the loss-surface issue.
public enum TerrainExport {}
