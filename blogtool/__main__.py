from blogtool.cli import main

main()
