from torch_nri.cli import main

raise SystemExit(main())
