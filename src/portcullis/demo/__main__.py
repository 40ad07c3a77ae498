import sys

from portcullis.demo.run import main

sys.exit(main())
