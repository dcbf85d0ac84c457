# Draws the benchmark chart from chart.dat and chart-memory.dat (written by
# bench/bench.py). Run in the results directory:
#   gnuplot -e "outfile='chart.png'" ../chart.gp
if (!exists("outfile")) outfile = 'chart.png'
set terminal pngcairo size 1200,1000 font "DejaVu Sans,10" noenhanced
set output outfile
set multiplot layout 2,1 title "geo_import benchmark: median of runs, one machine, one run, same table shape and indexes" font ",12"

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key below horizontal maxcols 3
set grid ytics mytics
set xtics nomirror
set logscale y
set format y "%.0s%c"

set title "Throughput: features per second (log scale; higher is better)"
set ylabel "features / s"
plot 'chart.dat' using 2:xtic(1) title "import_geojson (PostgREST request)" lc rgb "#1b9e77", \
     '' using 3 title "binary COPY of the finished rows (floor)" lc rgb "#7f7f7f", \
     '' using 4 title "ogr2ogr (PG_USE_COPY=YES)" lc rgb "#d95f02", \
     '' using 5 title "set-based SQL" lc rgb "#7570b3", \
     '' using 6 title "PL/pgSQL loop + EXCEPTION" lc rgb "#e7298a"

set title "Backend peak memory, VmHWM in MiB (log scale; lower is better). Outlined: 2.5 x payload, import_geojson's target"
set ylabel "MiB"
set format y "%g"
plot 'chart-memory.dat' using 2:xtic(1) title "import_geojson (PostgREST request)" lc rgb "#1b9e77", \
     '' using 3 title "binary COPY (floor)" lc rgb "#7f7f7f", \
     '' using 4 title "ogr2ogr (its backend)" lc rgb "#d95f02", \
     '' using 5 title "set-based SQL" lc rgb "#7570b3", \
     '' using 6 title "PL/pgSQL loop + EXCEPTION" lc rgb "#e7298a", \
     '' using 7 title "2.5 x payload (target)" fs empty border rgb "black" lc rgb "black"
unset multiplot
