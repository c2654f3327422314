"""``python -m autosnn ...``: the ``autosnn`` command, for launchers that start a module.

``torchrun`` runs a module (``torchrun --nproc-per-node 2 -m autosnn supernet ...``) or a file,
not a console script, hence this entry point.
"""

from autosnn.app.cli import main

if __name__ == "__main__":
    main()
