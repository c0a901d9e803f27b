from eqrobot.cli.main import main

raise SystemExit(main())
