import sys

from bazaar.cli.main import main

sys.exit(main())
