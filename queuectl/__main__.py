from queuectl.entrypoints.cli import main

main()
