import os
import sys

try:
    from .cli import main
except KeyboardInterrupt:     # Ctrl-C while Python loads the command line
    sys.stderr.write("skewsleuth: interrupted\n")
    sys.stderr.flush()
    os._exit(130)             # not sys.exit: Python may end itself by SIGINT after one (see cli)

main()
