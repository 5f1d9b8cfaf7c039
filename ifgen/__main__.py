"""`python -m ifgen` runs the command line."""

from ifgen.cli import main

if __name__ == "__main__":
    main()
