"""The training harness around the s3d_nerf model; train/train.py is its command line.

    distributed.py     Dist: rank/world/device, gradient all-reduce (torchrun)
    data.py            dataset for --data, step-indexed DistributedSampler batches
    checkpoint.py      checkpoint write/resume, --init-from an export, RNG state, stop signal
    run_log.py         log.csv / val.csv / sync_log.csv writer, sample PNGs, git commit
    generator_loop.py  generator_forward (one batch through Eq. 9), train_generator
    sync_loop.py       SyncNet pre-training (train.py sync)

The trainable model (TrainableS3DNeRF) lives with the model in s3d_nerf/trainable.py.
Modules import s3d_nerf as a top-level package, so train/ must be on sys.path (train.py
puts it there).
"""
