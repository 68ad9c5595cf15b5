"""Pure ML engine for LoRA fine-tuning and answer prediction (no Django imports; tested on tiny random models).

The Django layer (training jobs) adapts these functions to Job rows: it passes progress and stop callbacks and
stores what they report.
"""
