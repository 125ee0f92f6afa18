from rujuk.cli import main

raise SystemExit(main())
